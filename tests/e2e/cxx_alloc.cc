// cxx_alloc.cc - a C++ workload for tests/e2e/75-cxx.t: containers (map, string,
// vector), new[]/delete[], aligned and nothrow new, shared_ptr, plain malloc.
// Every block is stored in a volatile sink so the compiler keeps each call.
// With the argument "loop": new and delete for 4 seconds (for trace -p).
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>
struct alignas(64) Wide { char b[64]; };
void *volatile sink;
static int loop()
{
	time_t end = time(nullptr) + 4;

	while (time(nullptr) < end)
		for (int i = 0; i < 1000; i++) {
			std::string *s = new std::string(64, 'z');
			sink = s;
			delete s;
		}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "loop"))
		return loop();
	std::map<int, std::string> m;
	for (int i = 0; i < 1000; i++)
		m[i] = std::string(40, 'x');
	std::vector<int> v;
	for (int i = 0; i < 10000; i++)
		v.push_back(i);
	for (int i = 0; i < 100; i++) {
		int *a = new int[50];
		sink = a;
		delete[] a;
		Wide *w = new Wide;
		sink = w;
		delete w;
		int *n = new (std::nothrow) int(3);
		sink = n;
		delete n;
		auto sp = std::make_shared<std::string>(100, 'y');
		sink = sp.get();
		void *p = malloc(100 + i);
		sink = p;
		free(p);
	}
	return 0;
}
