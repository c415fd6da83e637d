#pragma once
// DriveDriverOptions: the part of a -drive that QEMU hands to the block drivers rather than
// reading itself (driver=blkdebug,align=..., file.driver=blkverify,file.raw.filename=...,
// qcow2's l2-cache-size=...): checked against what each driver takes (qmp::unknownDriverKey),
// with QEMU's -drive messages, and completed with the drive's file= for
// block::openImageFromOptions.
#include "app/qmp/Json.h"

#include <map>
#include <string>

namespace e2kvm::sys {

// Throws OptionError without the "-drive SPEC: " prefix for the first key no driver takes:
// "Block format 'qcow2' does not support the option 'x'", "Block protocol 'file' doesn't
// support the option 'x'", "Unknown driver 'x'". Without "driver", the keys are checked as a
// qcow2 node's (qcow2 takes every key raw does): e2kvm-system probes the format first.
void checkDriveDriverOptions(const std::map<std::string, std::string>& options);

// The options of the drive's top node: `options` with -drive's file=F put where the driver
// reads it (a format: its file's filename; a protocol driver: its own filename).
std::map<std::string, std::string> withDriveFile(std::map<std::string, std::string> options,
                                                 const std::string& file);

// The options as blockdev-add's nested arguments ("file.file.filename" under "file" under
// "file"); every value a string, as QEMU's keyval gives them before typing.
qmp::Json nestedOptions(const std::map<std::string, std::string>& options);

} // namespace e2kvm::sys
