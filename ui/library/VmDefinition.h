#pragma once
// VmDefinition: what the user configured for one VM (name, memory, disks, boot program, display
// size), and its JSON form: one human-readable file per VM in the library directory.
#include "emu/machine/BoardLimits.h"

#include <QJsonObject>
#include <QList>
#include <QSize>
#include <QString>
#include <QUuid>

#include <cstdint>

namespace e2kvm::ui {

struct VmDisk {
    QString file;
    QString format = QStringLiteral("qcow2"); // "qcow2" or "raw"
    bool readOnly = false;
    bool operator==(const VmDisk&) const = default;
};

enum class BootKind {
    Demo,   // the built-in boot ROM, which starts the program on disk 0 (the demo guest)
    Rom,    // a flat ROM image given by path
    Kernel, // a static E2K ELF loaded into RAM and started directly
};

struct VmDefinition {
    QString name;
    QUuid uuid;
    uint32_t memoryMiB = 256;
    QList<VmDisk> disks;
    BootKind boot = BootKind::Demo;
    QString bootPath; // ROM or kernel file (unused for Demo)
    QSize display{1024, 768};
    // Where the Backups tab keeps this VM's restore points (one folder per disk below it:
    // disk0, disk1...); empty: the suggested folder (see the Backups tab).
    QString backupDir;
    // Restore points kept per disk after each backup (older ones are merged); 0: all.
    int backupKeep = 0;
    // How restore points store their data: "" (as it is) or "zstd" (compressed clusters).
    QString backupCompression;
    bool operator==(const VmDefinition&) const = default;
};

// Limits the machine accepts (emu/machine/BoardLimits.h): RAM and block-device slots.
inline constexpr uint32_t kMinMemoryMiB = uint32_t(e2kvm::emu::kBoardMinRam >> 20);
inline constexpr uint32_t kMaxMemoryMiB = uint32_t(e2kvm::emu::kBoardMaxRam >> 20);
inline constexpr int kMaxNameLength = 64;
inline constexpr int kMaxDisks = int(e2kvm::emu::kBoardDiskSlots);
inline constexpr int kMaxBackupKeep = 100000;

// Empty if `name` can name a VM (it becomes a file name): 1..64 characters of letters, digits,
// space, '-', '_', '.', not starting with '.' or space; else why not.
QString nameProblem(const QString& name);
// Empty if the definition is usable, else the first problem ("memory 8 MiB is below 16 MiB").
QString definitionProblem(const VmDefinition& def);

const char* bootKindName(BootKind kind); // "demo", "rom", "kernel"

QJsonObject toJson(const VmDefinition& def);
// Throws std::runtime_error naming `what` (usually the file) and the field on bad content.
VmDefinition fromJson(const QJsonObject& obj, const QString& what);

} // namespace e2kvm::ui
