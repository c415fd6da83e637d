// e2kvm-as: assembles E2K assembly (MCST GAS syntax) like GNU as: by default into a relocatable
// ELF64 object (sections, symbols, relocations) that MCST's ld links; with -f exec (or
// --base) into a static ELF64 executable for E2K Linux, with -f bin into a flat image.
#include "emu/asm/AsmError.h"
#include "emu/asm/Assembler.h"
#include "emu/asm/ElfImage.h"
#include "emu/asm/ElfObject.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

using namespace e2kvm::emu;

static int usage() {
    std::cerr << "usage: e2kvm-as [-f obj|exec|bin] [--base ADDR] [-mcpu=elbrus-vN] [-o OUTPUT] "
                 "INPUT.s|-\n"
                 "  -f obj   relocatable ELF object (the default; OUTPUT defaults to a.out)\n"
                 "  -f exec  static ELF executable, text at --base (default 0x10000)\n"
                 "  -f bin   flat image: text at offset 0, data on the next 4 KiB page\n";
    return 2;
}

int main(int argc, char** argv) {
    std::string out = "a.out", in, format;
    AsmOptions opt;
    bool baseGiven = false;
    uint32_t iset = 3;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-o" && i + 1 < argc)
            out = argv[++i];
        else if (a == "-f" && i + 1 < argc)
            format = argv[++i];
        else if (a == "--base" && i + 1 < argc) {
            opt.textBase = std::stoull(argv[++i], nullptr, 0);
            baseGiven = true;
        } else if (a.rfind("-mcpu=elbrus-v", 0) == 0 && a.size() == 15 && a[14] >= '1' &&
                   a[14] <= '7')
            iset = uint32_t(a[14] - '0');
        else if (a == "-h" || a == "--help")
            return usage();
        else if (a == "-" || a.empty() || a[0] != '-')
            in = a;
        else
            return usage();
    }
    if (format.empty())
        format = baseGiven ? "exec" : "obj";
    if (format == "elf")
        format = "exec";
    if (in.empty() || (format != "obj" && format != "exec" && format != "bin"))
        return usage();
    std::stringstream ss;
    if (in == "-") {
        ss << std::cin.rdbuf();
    } else {
        std::ifstream f(in, std::ios::binary);
        if (!f) {
            std::cerr << "e2kvm-as: cannot read " << in << ": " << std::strerror(errno) << "\n";
            return 1;
        }
        ss << f.rdbuf();
    }
    const std::string name = in == "-" ? "{standard input}" : in;
    try {
        std::vector<uint8_t> bytes;
        if (format == "obj") {
            bytes = writeObject(assembleObject(ss.str(), name), iset << 24);
        } else {
            AsmImage img = assemble(ss.str(), name, opt);
            bytes = format == "exec" ? writeElf(img, iset << 24) : writeFlat(img);
        }
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
