// cxx_churn.cc - bench/allocators.sh's C++ workload: N new + delete pairs
// of 16..1000 bytes, 256 live (the shape of examples/churn.c, in C++).
#include <cstdlib>
void *volatile sink;
int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	char *live[256] = { nullptr };

	for (long i = 0; i < n; i++) {
		int k = (int)(i & 255);
		delete[] live[k];
		live[k] = new char[16 + (i * 37) % 985];
		sink = live[k];
	}
	for (int k = 0; k < 256; k++)
		delete[] live[k];
	return 0;
}
