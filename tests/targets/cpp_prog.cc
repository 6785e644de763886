// A C++ program for the record tests: report shows demangled names.
#include <cstdio>
#include <vector>

namespace shapes {
struct Circle {
	double r;
	__attribute__((noinline)) double area() const { return 3.0 * r * r; }
};
__attribute__((noinline)) double total(const std::vector<Circle> &v)
{
	double s = 0;
	for (const auto &c : v)
		s += c.area();
	return s;
}
} // namespace shapes

int main()
{
	std::vector<shapes::Circle> v;
	for (int i = 0; i < 10; i++)
		v.push_back({ double(i) });
	std::printf("%.0f\n", shapes::total(v));
	return 0;
}
