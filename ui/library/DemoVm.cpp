#include "ui/library/DemoVm.h"

#include "block/BlockDriver.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "ui/library/ImageCopy.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <stdexcept>

namespace e2kvm::ui {

VmDefinition makeDemoVm(const QString& demoDiskRaw, const QString& dataDir) {
    if (demoDiskRaw.isEmpty())
        throw std::runtime_error("the demo disk (demo-disk.raw) was not found; build the "
                                 "resources/guest targets or set E2KVM_GUEST_DIR");
    if (!QDir().mkpath(dataDir))
        throw std::runtime_error(dataDir.toStdString() + ": cannot create the data directory");
    QString image = QDir(dataDir).filePath(QStringLiteral("demo.qcow2"));
    if (!QFileInfo::exists(image)) {
        std::string path = image.toStdString();
        copyImage(demoDiskRaw.toStdString(), path, "qcow2");
        try {
            block::OpenOptions options;
            options.readOnly = false;
            options.format = "qcow2";
            std::unique_ptr<block::BlockDriver> disk = block::openImage(path, options);
            block::BitmapCatalog* bitmaps = disk->bitmaps();
            if (!bitmaps)
                throw std::runtime_error(path + ": the image format keeps no bitmaps");
            block::BitmapAction add;
            add.kind = block::BitmapActionKind::Add;
            add.name = kDemoBitmapName;
            add.persistent = true;
            bitmaps->apply(std::span(&add, 1));
            disk->flush();
        } catch (...) {
            // A demo disk without its bitmap would be reused next time: do not keep it.
            QFile::remove(image);
            throw;
        }
    }
    VmDefinition def;
    def.name = QString::fromLatin1(kDemoVmName);
    def.uuid = QUuid::createUuid();
    def.memoryMiB = 256;
    def.disks.append(VmDisk{image, QStringLiteral("qcow2"), false});
    def.boot = BootKind::Demo;
    def.display = QSize(1024, 768);
    return def;
}

} // namespace e2kvm::ui
