#pragma once
// DemoVm: the VM a new user finds in an empty library: the demo guest booted by the built-in ROM
// from a qcow2 copy of the built demo disk that carries a persistent dirty bitmap "backup", so
// every key the guest records shows up in the bitmaps panel and in incremental NBD backups.
#include "ui/library/VmDefinition.h"

#include <QString>

namespace e2kvm::ui {

inline constexpr const char* kDemoVmName = "Demo";
inline constexpr const char* kDemoBitmapName = "backup";

// Makes `dataDir`/demo.qcow2 from `demoDiskRaw` (reused if it exists already) with the bitmap,
// and returns the definition (not yet added to a library). Throws std::runtime_error /
// block::BlockError with the file names.
VmDefinition makeDemoVm(const QString& demoDiskRaw, const QString& dataDir);

} // namespace e2kvm::ui
