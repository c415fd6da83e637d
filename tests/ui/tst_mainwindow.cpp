// MainWindow with the real machine: the library's VM is selected at start and not running; Run
// boots the demo guest (the console shows its first frame), Pause/Run states reach the list,
// typed keys reach the guest's disk (the bitmap records them), and Shut Down stores it all.
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "emu/display/FramePublisher.h"
#include "ui/AppContext.h"
#include "ui/console/ConsoleWidget.h"
#include "ui/library/DemoVm.h"
#include "ui/library/GuestFiles.h"
#include "ui/library/VmLibrary.h"
#include "ui/mainwindow/MainWindow.h"
#include "ui/mainwindow/VmSession.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace e2kvm;
using namespace e2kvm::ui;

class TestMainWindow : public QObject {
    Q_OBJECT
private slots:
    void runsTheDemoVm() {
        GuestFiles guest = GuestFiles::locate(QStringLiteral(E2KVM_TEST_GUEST_DIR));
        if (guest.rom.isEmpty() || guest.demoDisk.isEmpty())
            QSKIP("the guest ROM and demo disk are not built (target e2kvm_guest)");
        QTemporaryDir tmp;
        vm::BlockNodeTable nodes;
        vm::NbdExportService exports(nodes);
        AppContext ctx;
        ctx.nodes = &nodes;
        ctx.exports = &exports;
        VmLibrary library(tmp.filePath(QStringLiteral("vms")));
        library.add(makeDemoVm(guest.demoDisk, tmp.filePath(QStringLiteral("data"))));
        std::string disk;
        {
            MainWindow window(ctx, library, guest, tmp.filePath(QStringLiteral("data")));
            window.setProperty("noConfirm", true);
            QCOMPARE(window.selectedVmName(), QStringLiteral("Demo"));
            QVERIFY(window.selectedSession() == nullptr); // selected, not running
            QVERIFY(window.tabPage(QStringLiteral("Console")));
            QVERIFY(window.tabPage(QStringLiteral("Details")));

            QSignalSpy first(window.console(), &ConsoleWidget::firstFrame);
            QVERIFY(window.runSelected());
            VmSession* session = window.selectedSession();
            QVERIFY(session);
            disk = session->disks().at(0)->file;
            QTRY_VERIFY_WITH_TIMEOUT(first.count() > 0, 30000);
            QTRY_COMPARE_WITH_TIMEOUT(library.runState(0), QStringLiteral("running"), 10000);
            QVERIFY(!window.console()->image().isNull());

            // Three keys: the demo writes three 512-byte records to disk 0.
            for (uint16_t key : {uint16_t(0x12), uint16_t(0x03), uint16_t(0x25)})
                window.console()->sendKeys({key});
            QTRY_VERIFY_WITH_TIMEOUT(session->bytesWritten() >= 3 * 512, 20000);

            session->pause();
            QTRY_COMPARE_WITH_TIMEOUT(library.runState(0), QStringLiteral("paused"), 10000);
            session->resume();
            session->shutDown();
            QTRY_COMPARE_WITH_TIMEOUT(library.runState(0), QStringLiteral("stopped"), 10000);
            window.close();
        }
        // The node table still holds the image; its bitmap already saw the writes.
        auto node = nodes.findByFile(disk);
        QVERIFY(node);
        auto bitmap = node->image->bitmaps()->find(kDemoBitmapName);
        QVERIFY(bitmap.has_value() && bitmap->bitmap);
        QVERIFY(bitmap->bitmap->dirtyBytes() > 0);
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
