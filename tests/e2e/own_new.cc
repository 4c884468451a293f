// own_new.cc - an executable that defines its own operator new and delete
// (over malloc and free), as some programs do to count or pool: faultline
// must find them in the executable, first in lookup order, not libstdc++'s
// (noinline: gcc would inline them into their callers in this file).
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

__attribute__((noinline)) void *operator new(std::size_t n)
{
	void *p = std::malloc(n ? n : 1);
	if (!p)
		throw std::bad_alloc();
	return p;
}
__attribute__((noinline)) void operator delete(void *p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void *p, std::size_t) noexcept { std::free(p); }

std::vector<std::string *> *volatile sink;

int main()
{
	std::vector<std::string *> v;
	for (int i = 0; i < 1000; i++)
		v.push_back(new std::string(100, 'x'));
	sink = &v;
	for (auto *s : v)
		delete s;
	return 0;
}
