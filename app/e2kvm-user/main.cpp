// e2kvm-user: runs a static E2K Linux executable on the e2kvm interpreter with the E2K Linux
// user ABI. Exits with the program's exit code; a guest fault prints the exception, IP and
// bundle and exits with 128 + signal.
#include "emu/user/LinuxProcess.h"

#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

using namespace e2kvm::emu;

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) {
        std::cerr << "usage: e2kvm-user PROGRAM [ARGS...]\n";
        return 2;
    }
    std::ifstream f(argv[1], std::ios::binary);
    if (!f) {
        std::cerr << "e2kvm-user: cannot read " << argv[1] << ": " << std::strerror(errno) << "\n";
        return 127;
    }
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)),
                               std::istreambuf_iterator<char>());
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        LinuxProcess proc;
        proc.load(bytes, argv[1], args);
        ProcessResult r = proc.run();
        if (!r.fault.empty())
            std::cerr << "e2kvm-user: " << argv[1] << ": " << r.fault << "\n";
        return r.exitCode;
    } catch (const std::exception& e) {
        std::cerr << "e2kvm-user: " << e.what() << "\n";
        return 127;
    }
}
