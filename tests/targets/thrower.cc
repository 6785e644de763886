// C++ functions with patch sites for the exception test (clang++ -g).
#include <stdexcept>
#include <string>

__attribute__((noinline)) int thrower(int x)
{
	if (x < 0)
		throw std::runtime_error("negative: " + std::to_string(x));
	return x * 2;
}

__attribute__((noinline)) int catcher(int x)
{
	try {
		return thrower(x);
	} catch (const std::runtime_error &) {
		return -1;
	}
}
