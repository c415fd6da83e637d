#include "ui/library/GuestFiles.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>

namespace e2kvm::ui {

GuestFiles GuestFiles::locate(const QString& overrideDir) {
    QStringList dirs;
    if (!overrideDir.isEmpty()) {
        dirs << overrideDir;
    } else {
        QString env = qEnvironmentVariable("E2KVM_GUEST_DIR");
        if (!env.isEmpty())
            dirs << env;
        QString app = QCoreApplication::applicationDirPath();
        // Build tree: build/X/app/e2kvm/e2kvm and build/X/resources/guest/.
        dirs << app + QStringLiteral("/../../resources/guest");
        dirs << app + QStringLiteral("/../share/e2kvm/guest");
#ifdef E2KVM_BUILD_GUEST_DIR
        dirs << QStringLiteral(E2KVM_BUILD_GUEST_DIR);
#endif
#ifdef E2KVM_INSTALL_GUEST_DIR
        dirs << QStringLiteral(E2KVM_INSTALL_GUEST_DIR);
#endif
    }
    GuestFiles found;
    for (const QString& d : dirs) {
        QString dir = QDir::cleanPath(d);
        found.searched << dir;
        QFileInfo rom(dir + QStringLiteral("/e2kvm-rom.bin"));
        QFileInfo disk(dir + QStringLiteral("/demo-disk.raw"));
        if (found.rom.isEmpty() && rom.isFile())
            found.rom = rom.absoluteFilePath();
        if (found.demoDisk.isEmpty() && disk.isFile())
            found.demoDisk = disk.absoluteFilePath();
    }
    return found;
}

} // namespace e2kvm::ui
