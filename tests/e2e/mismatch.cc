// mismatch.cc - tests/e2e/75-cxx.t: each kind of mismatched deallocation
// exactly once (valgrind's "Mismatched free() / delete / delete []"), in the
// order malloc/delete, malloc/delete[], new/free, new/delete[], new[]/free,
// new[]/delete; with an argument "clean", every block freed by its own kind.
#include <cstdlib>
#include <cstring>
#include <new>
void *volatile sink;
template <class T> static T *keep(T *p) { sink = p; return p; }
int main(int argc, char **argv)
{
	bool clean = argc > 1 && !strcmp(argv[1], "clean");
	int *a = keep((int *)malloc(40)), *b = keep((int *)malloc(48));
	int *c = keep(new int(1)), *d = keep(new int(2));
	int *e = keep(new int[10]), *f = keep(new int[12]);

	if (clean) {
		free(a); free(b); delete c; delete d; delete[] e; delete[] f;
		return 0;
	}
	::operator delete(a);     // malloc -> delete
	::operator delete[](b);   // malloc -> delete[]
	free(c);                  // new -> free
	::operator delete[](d);   // new -> delete[]
	free(e);                  // new[] -> free
	::operator delete(f);     // new[] -> delete
	return 0;
}
