// e2k_bench: runs E2K benchmark programs under the Linux user runtime and reports guest
// bundles/s and ALU ops/s; run with [--no-jit | --in-place-jit] PROGRAM... (built from alu.s,
// checksum.s, memloop.s, recursion.s). --no-jit interprets the fast path's in-place ops instead
// of translating them; --in-place-jit translates only those (no whole linked bundles, BundleJit).
// vs_qemu.py compares with qemu-e2k when one is built (it is not packaged);
// ir_per_bundle.sh counts host instructions per bundle instead (callgrind).
#include "emu/user/LinuxProcess.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>

using namespace e2kvm::emu;

int main(int argc, char** argv) {
    int first = 1;
    const std::string mode = argc > 1 ? argv[1] : "";
    const bool jit = mode != "--no-jit", whole = jit && mode != "--in-place-jit";
    if (mode == "--no-jit" || mode == "--in-place-jit")
        ++first;
    if (argc <= first) {
        std::fprintf(stderr, "usage: e2k_bench [--no-jit | --in-place-jit] PROGRAM...\n");
        return 2;
    }
    int status = 0;
    for (int i = first; i < argc; ++i) {
        std::ifstream f(argv[i], std::ios::binary);
        std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)),
                                   std::istreambuf_iterator<char>());
        LinuxProcess proc;
        try {
            proc.load(bytes, argv[i], {argv[i]});
        } catch (const std::exception& e) {
            std::fprintf(stderr, "e2k_bench: %s: %s\n", argv[i], e.what());
            status = 1;
            continue;
        }
        proc.cpu().setInPlaceJit(jit);
        proc.cpu().setBundleJit(whole);
        auto t0 = std::chrono::steady_clock::now();
        std::clock_t c0 = std::clock();
        ProcessResult r = proc.run();
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        double cpu = double(std::clock() - c0) / CLOCKS_PER_SEC;
        const CpuState& s = proc.cpu().state();
        // Rates use CPU time (robust on a shared machine); wall time is printed too.
        std::printf("%-28s exit %d  wall %.2f s  cpu %.2f s  %llu bundles  %.1f M bundles/s  "
                    "%llu ops  %.1f M ALU ops/s\n",
                    argv[i], r.exitCode, secs, cpu, static_cast<unsigned long long>(s.bundles),
                    double(s.bundles) / cpu / 1e6, static_cast<unsigned long long>(s.ops),
                    double(s.ops) / cpu / 1e6);
        if (r.exitCode != 0) {
            std::fprintf(stderr, "%s: %s\n", argv[i], r.fault.c_str());
            status = 1;
        }
    }
    return status;
}
