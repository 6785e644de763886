// C++ built the way a user builds it (g++ -O2 -g, no patch site), for
// record -P (tests/t_patch.sh cxx_program): exceptions thrown through
// gcc's .cold parts, threads, std containers, library calls into
// libstdc++.  It prints its results and the calls of thrower it made.
#include <algorithm>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

__attribute__((noinline)) int thrower(int x)
{
	if (x % 7 == 3)
		throw std::runtime_error("x" + std::to_string(x));
	return x * 2;
}

__attribute__((noinline)) long work(int n)
{
	long s = 0;
	std::map<int, std::string> m;

	for (int i = 0; i < n; i++) {
		try {
			s += thrower(i);
		} catch (const std::exception &e) {
			m[i] = e.what();
		}
	}
	std::vector<int> v(n);
	for (int i = 0; i < n; i++)
		v[i] = (i * 7919) % n;
	std::sort(v.begin(), v.end());
	return s + (long)m.size() + v[n / 2];
}

int main()
{
	std::vector<std::thread> t;
	std::vector<long> r(4);
	int calls = 0;

	for (int i = 0; i < 4; i++) {
		calls += 2000 + i;
		t.emplace_back([&r, i] { r[i] = work(2000 + i); });
	}
	for (auto &x : t)
		x.join();
	std::cout << r[0] << " " << r[1] << " " << r[2] << " " << r[3] << "\n";
	std::cout << "calls thrower " << calls << " work 4\n";
}
