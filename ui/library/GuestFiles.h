#pragma once
// GuestFiles: where the built guest software lives (the boot ROM e2kvm-rom.bin and the demo
// disk demo-disk.raw from resources/guest): an explicit directory, $E2KVM_GUEST_DIR, the build
// tree next to the executable, or the installed share/e2kvm/guest.
#include <QString>
#include <QStringList>

namespace e2kvm::ui {

struct GuestFiles {
    QString rom;      // empty if not found
    QString demoDisk; // empty if not found
    QStringList searched;

    // `overrideDir` non-empty: only look there.
    static GuestFiles locate(const QString& overrideDir = {});
};

} // namespace e2kvm::ui
