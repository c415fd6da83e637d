// e2kvm-as: assembles E2K assembly (MCST GAS bundle syntax) into a static ELF64 executable
// for E2K Linux, or a flat binary image.
#include "emu/asm/AsmError.h"
#include "emu/asm/Assembler.h"
#include "emu/asm/ElfImage.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

using namespace e2kvm::emu;

static int usage() {
    std::cerr << "usage: e2kvm-as [-f elf|bin] [--base ADDR] -o OUTPUT INPUT.s\n";
    return 2;
}

int main(int argc, char** argv) {
    std::string out, in, format = "elf";
    AsmOptions opt;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-o" && i + 1 < argc)
            out = argv[++i];
        else if (a == "-f" && i + 1 < argc)
            format = argv[++i];
        else if (a == "--base" && i + 1 < argc)
            opt.textBase = std::stoull(argv[++i], nullptr, 0);
        else if (a == "-h" || a == "--help")
            return usage();
        else if (!a.empty() && a[0] == '-')
            return usage();
        else
            in = a;
    }
    if (in.empty() || out.empty() || (format != "elf" && format != "bin"))
        return usage();
    std::ifstream f(in, std::ios::binary);
    if (!f) {
        std::cerr << "e2kvm-as: cannot read " << in << ": " << std::strerror(errno) << "\n";
        return 1;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    try {
        AsmImage img = assemble(ss.str(), in, opt);
        std::vector<uint8_t> bytes = format == "elf" ? writeElf(img) : writeFlat(img);
        std::ofstream o(out, std::ios::binary | std::ios::trunc);
        o.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
        if (!o) {
            std::cerr << "e2kvm-as: cannot write " << out << "\n";
            return 1;
        }
    } catch (const AsmError& e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}
