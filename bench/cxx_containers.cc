// cxx_containers.cc - bench/preload.sh's C++ container workload: N rounds
// of what a C++ service does with the standard containers. Each round
// inserts a string-keyed entry into a std::map and a std::unordered_map
// (keys cycle over 5000 values, so the maps stop growing and every insert
// of a present key replaces it), appends to a std::vector<std::string>
// that is cleared every 1000 rounds, and builds and drops a short
// std::list<int>. Deterministic; prints one checksum line (so nothing is
// optimised away). About 6 allocator calls a round.
#include <cstdio>
#include <cstdlib>
#include <list>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 300000;
	std::map<std::string, long> ordered;
	std::unordered_map<std::string, long> hashed;
	std::vector<std::string> log;
	unsigned long sum = 0;

	for (long i = 0; i < n; i++) {
		std::string key = "key-with-a-long-prefix-" + std::to_string((i * 7919) % 5000);

		ordered[key] = i;
		hashed[key] = i;
		if (i % 3 == 0)
			ordered.erase(ordered.begin());
		log.push_back(key);
		if (log.size() == 1000) {
			sum += log.back().size();
			log.clear();
		}
		std::list<int> tmp(3, (int)i);
		sum += (unsigned long)tmp.front() + hashed.size() + ordered.size();
	}
	std::printf("%lu\n", sum);
	return 0;
}
