// Selecting a VM is looking: the main window shows the selected VM's disks in the Images,
// Bitmaps and Exports tabs without opening them for writing, so a disk whose bytes a writable
// open would change (a qcow2 with the dirty bit set, whose persistent bitmap a writable open
// marks in use) stays byte for byte as it was. Starting the VM opens its disks for writing (the
// repair happens then), and so does a change the user asks for in the Bitmaps tab.
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "block/HostFile.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "panels/TestImages.h"
#include "ui/AppContext.h"
#include "ui/library/DemoVm.h"
#include "ui/library/GuestFiles.h"
#include "ui/library/VmLibrary.h"
#include "ui/mainwindow/MainWindow.h"
#include "ui/mainwindow/VmSession.h"
#include "ui/panels/BitmapMapWidget.h"
#include "ui/panels/BitmapsPanel.h"
#include "ui/panels/ExportsPanel.h"
#include "ui/panels/ImagesPanel.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace e2kvm;
using namespace e2kvm::ui;
using namespace e2kvm::test;

namespace {

// The qcow2 dirty bit: bit 0 of the big-endian incompatible features at offset 72.
bool dirtyBit(const QString& path) {
    return (uint8_t(fileBytes(path).at(79)) & 1) != 0;
}

// A library holding the Demo VM, whose disk is left dirty, in a temporary directory.
struct DirtyDemo {
    GuestFiles guest = GuestFiles::locate(QStringLiteral(E2KVM_TEST_GUEST_DIR));
    QTemporaryDir tmp;
    vm::BlockNodeTable nodes;
    vm::NbdExportService exports{nodes};
    AppContext ctx;
    VmLibrary library{tmp.filePath(QStringLiteral("vms"))};
    QString disk;

    bool make() {
        ctx.nodes = &nodes;
        ctx.exports = &exports;
        if (guest.rom.isEmpty() || guest.demoDisk.isEmpty())
            return false;
        library.add(makeDemoVm(guest.demoDisk, tmp.filePath(QStringLiteral("data"))));
        disk = library.at(0).disks.at(0).file;
        setDirtyBit(disk);
        return true;
    }
};

} // namespace

class TestSelectLooking : public QObject {
    Q_OBJECT
private slots:
    void selectingAVmLeavesItsDisksUnchanged() {
        DirtyDemo s;
        QVERIFY2(s.make(), "the guest ROM and demo disk are not built (target e2kvm_guest)");
        QVERIFY(writableOpenChanges(s.disk, s.tmp.filePath(QStringLiteral("scratch.qcow2"))));
        const QByteArray before = fileBytes(s.disk);
        QVERIFY(dirtyBit(s.disk));

        MainWindow window(s.ctx, s.library, s.guest, s.tmp.filePath(QStringLiteral("data")));
        window.setProperty("noConfirm", true);
        QCOMPARE(window.selectedVmName(), QStringLiteral("Demo")); // selected, not running
        QVERIFY(window.selectedSession() == nullptr);

        // Every tab shows the disk: the Bitmaps tab its bitmap and the map of it...
        window.showTab(QStringLiteral("Bitmaps"));
        auto* bitmaps = qobject_cast<BitmapsPanel*>(window.tabPage(QStringLiteral("Bitmaps")));
        QVERIFY(bitmaps);
        QCOMPARE(bitmaps->currentImage(), s.disk);
        QCOMPARE(bitmaps->selectedBitmap(), QString::fromLatin1(kDemoBitmapName));
        bitmaps->mapWidget()->grab();
        bitmaps->refresh();
        auto* images = qobject_cast<ImagesPanel*>(window.tabPage(QStringLiteral("Images")));
        QVERIFY(images);
        QCOMPARE(images->currentFile(), s.disk);
        QVERIFY2(images->detailsText().contains(QStringLiteral("Bitmap backup")),
                 qPrintable(images->detailsText()));
        auto* exports = qobject_cast<ExportsPanel*>(window.tabPage(QStringLiteral("Exports")));
        QVERIFY(exports);
        exports->setCurrentImage(s.disk);
        QCOMPARE(exports->offeredBitmaps(), QStringList{QString::fromLatin1(kDemoBitmapName)});
        // ...selecting it again changes nothing either...
        QVERIFY(window.selectVm(QStringLiteral("Demo")));
        // ...and the disk is byte for byte as it was, not open in the node table.
        QCOMPARE(fileBytes(s.disk), before);
        QVERIFY(s.nodes.list().empty());

        // A change the user asks for opens it for writing (named as the VM names it): the
        // repair of the dirty image happens now, and the new bitmap is there.
        QVERIFY(bitmaps->addBitmap(QStringLiteral("mine")));
        auto node = s.nodes.findByFile(s.disk.toStdString());
        QVERIFY(node);
        QCOMPARE(node->name, std::string("disk0"));
        QVERIFY(!node->image->readOnly());
        QVERIFY(fileBytes(s.disk) != before);
        QVERIFY(!dirtyBit(s.disk));
        QVERIFY(node->image->bitmaps()->find("mine"));
        window.close();
    }

    void startingTheVmOpensItsDisksForWriting() {
        DirtyDemo s;
        QVERIFY2(s.make(), "the guest ROM and demo disk are not built (target e2kvm_guest)");
        const QByteArray before = fileBytes(s.disk);
        MainWindow window(s.ctx, s.library, s.guest, s.tmp.filePath(QStringLiteral("data")));
        window.setProperty("noConfirm", true);
        auto* bitmaps = qobject_cast<BitmapsPanel*>(window.tabPage(QStringLiteral("Bitmaps")));
        QVERIFY(bitmaps);
        QCOMPARE(bitmaps->selectedBitmap(), QString::fromLatin1(kDemoBitmapName));
        QCOMPARE(fileBytes(s.disk), before);

        QVERIFY(window.runSelected());
        VmSession* session = window.selectedSession();
        QVERIFY(session && session->isActive());
        auto disk = session->disks().at(0);
        QCOMPARE(disk->name, std::string("disk0"));
        QVERIFY(!disk->readOnly);
        QCOMPARE(s.nodes.findByFile(s.disk.toStdString()), disk);
        QVERIFY(!dirtyBit(s.disk)); // opened for writing: repaired at start
        // The Bitmaps tab now shows the running VM's live node.
        bitmaps->refresh();
        QCOMPARE(bitmaps->selectedBitmap(), QString::fromLatin1(kDemoBitmapName));
        QVERIFY(bitmaps->newCheckpoint(QStringLiteral("ckpt")));
        QVERIFY(disk->image->bitmaps()->find("ckpt"));
        QCOMPARE(s.nodes.list().size(), size_t(1));

        session->shutDown();
        QTRY_VERIFY_WITH_TIMEOUT(!session->isActive(), 10000);
        window.close();
    }
};

QTEST_MAIN(TestSelectLooking)
#include "tst_select_looking.moc"
