#pragma once
// DefaultRom: finds the boot ROM e2kvm-system uses without -bios: the one built next to the
// executable's build tree, else the installed share/e2kvm/guest copy.
#include <string>
#include <vector>

namespace e2kvm::sys {

inline constexpr const char* kDefaultRomName = "e2kvm-rom.bin";

// Where to look, in order, for an executable at `exePath`.
std::vector<std::string> defaultRomCandidates(const std::string& exePath);
// The first candidate that exists, or "" (then `looked` lists the places tried).
std::string findDefaultRom(std::vector<std::string>* looked = nullptr);

} // namespace e2kvm::sys
