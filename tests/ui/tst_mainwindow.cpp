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
#include "ui/jobs/JobProgress.h"
#include "ui/library/DemoVm.h"
#include "ui/library/GuestFiles.h"
#include "ui/library/VmLibrary.h"
#include "ui/log/LogModel.h"
#include "ui/mainwindow/MainWindow.h"
#include "ui/mainwindow/VmSession.h"

#include <QAbstractButton>
#include <QAction>
#include <QMessageBox>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <algorithm>
#include <span>
#include <vector>

using namespace e2kvm;
using namespace e2kvm::ui;

namespace {

// What a MainWindow needs around it: the node table, NBD service and a library holding the
// Demo VM, all in a temporary directory.
struct DemoSetup {
    GuestFiles guest = GuestFiles::locate(QStringLiteral(E2KVM_TEST_GUEST_DIR));
    QTemporaryDir tmp;
    vm::BlockNodeTable nodes;
    vm::NbdExportService exports{nodes};
    LogModel log; // the Log tab (in the screenshots too)
    AppContext ctx;
    VmLibrary library{tmp.filePath(QStringLiteral("vms"))};

    DemoSetup() {
        ctx.nodes = &nodes;
        ctx.exports = &exports;
        ctx.log = &log;
        if (!guest.demoDisk.isEmpty())
            library.add(makeDemoVm(guest.demoDisk, dataDir()));
    }
    QString dataDir() const { return tmp.filePath(QStringLiteral("data")); }
};

} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT
private slots:
    void runsTheDemoVm() {
        DemoSetup s;
        QVERIFY2(!s.guest.rom.isEmpty() && !s.guest.demoDisk.isEmpty(),
                 "the guest ROM and demo disk are not built (target e2kvm_guest)");
        VmLibrary& library = s.library;
        std::string disk;
        {
            MainWindow window(s.ctx, library, s.guest, s.dataDir());
            window.setProperty("noConfirm", true);
            QCOMPARE(window.selectedVmName(), QStringLiteral("Demo"));
            QVERIFY(window.selectedSession() == nullptr); // selected, not running
            QVERIFY(window.tabPage(QStringLiteral("Console")));
            QVERIFY(window.tabPage(QStringLiteral("Details")));
            QVERIFY(window.tabPage(QStringLiteral("Log")));

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

            QVERIFY(window.console()->stateBanner().isEmpty()); // live
            // E2KVM_SCREENSHOT_DIR=dir saves every tab of the running VM for a look by eye.
            if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty()) {
                window.show();
                QVERIFY(QTest::qWaitForWindowExposed(&window));
                for (const char* tab :
                     {"Console", "Details", "Images", "Bitmaps", "Exports", "Backups", "Log"}) {
                    window.showTab(QString::fromLatin1(tab));
                    QTest::qWait(1200); // the panels refresh once a second
                    QVERIFY(window.grab().save(
                        QStringLiteral("%1/tab-%2.png").arg(dir, QString::fromLatin1(tab))));
                }
                window.showTab(QStringLiteral("Console"));
            }
            session->pause();
            QTRY_COMPARE_WITH_TIMEOUT(library.runState(0), QStringLiteral("paused"), 10000);
            // The last frame stays, marked as not live.
            QTRY_COMPARE(window.console()->stateBanner(), QStringLiteral("Paused"));
            session->resume();
            QTRY_VERIFY(window.console()->stateBanner().isEmpty());
            // Force Off asks first; Cancel leaves the VM running.
            window.setProperty("noConfirm", false);
            QAction* forceOff = nullptr;
            for (QAction* a : window.findChildren<QAction*>())
                if (a->text() == QStringLiteral("&Force Off…"))
                    forceOff = a;
            QVERIFY(forceOff && forceOff->isEnabled());
            bool asked = false;
            QTimer::singleShot(0, &window, [&window, &asked] {
                auto* box = window.findChild<QMessageBox*>(QStringLiteral("forceOffConfirm"));
                asked = box != nullptr;
                if (box)
                    box->button(QMessageBox::Cancel)->click();
            });
            forceOff->trigger();
            QVERIFY(asked);
            QVERIFY(session->isActive());
            window.setProperty("noConfirm", true);
            session->shutDown();
            QTRY_COMPARE_WITH_TIMEOUT(library.runState(0), QStringLiteral("stopped"), 10000);
            QTRY_COMPARE(window.console()->stateBanner(), QStringLiteral("Stopped"));
            if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty())
                QVERIFY(window.grab().save(dir + QStringLiteral("/stopped-console.png")));
            QVERIFY(!window.console()->image().isNull());
            window.close();
        }
        // The node table still holds the image; its bitmap already saw the writes.
        auto node = s.nodes.findByFile(disk);
        QVERIFY(node);
        auto bitmap = node->image->bitmaps()->find(kDemoBitmapName);
        QVERIFY(bitmap.has_value() && bitmap->bitmap);
        QVERIFY(bitmap->bitmap->dirtyBytes() > 0);
    }

    // Clone with copied disks runs as a job; the clone joins the library when the copy is done,
    // with its own disk that reads the same as the original. A shared clone gets the same disk
    // read-only, at once.
    void clonesTheSelectedVm() {
        DemoSetup s;
        QVERIFY2(!s.guest.demoDisk.isEmpty(), "the demo disk is not built (target e2kvm_guest)");
        VmLibrary& library = s.library;
        MainWindow window(s.ctx, library, s.guest, s.dataDir());
        window.setProperty("noConfirm", true);
        QCOMPARE(window.selectedVmName(), QStringLiteral("Demo"));

        JobProgress* job = window.cloneSelected(QStringLiteral("Copy"), true);
        QVERIFY(job);
        QSignalSpy finished(job, &JobProgress::finished);
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 30000);
        QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
        QTRY_VERIFY(library.contains(QStringLiteral("Copy")));
        const VmDefinition& original = library.at(library.indexOf(QStringLiteral("Demo")));
        const VmDefinition& copy = library.at(library.indexOf(QStringLiteral("Copy")));
        QCOMPARE(copy.disks.size(), original.disks.size());
        QVERIFY(copy.disks[0].file != original.disks[0].file);
        QVERIFY(!copy.disks[0].readOnly);
        QCOMPARE(window.selectedVmName(), QStringLiteral("Copy"));
        {
            block::OpenOptions ro;
            ro.readOnly = true;
            auto a = block::openImage(original.disks[0].file.toStdString(), ro);
            auto b = block::openImage(copy.disks[0].file.toStdString(), ro);
            QCOMPARE(b->size(), a->size());
            std::vector<uint8_t> x(1 << 20), y(1 << 20);
            for (uint64_t off = 0; off < a->size(); off += x.size()) {
                size_t n = size_t(std::min<uint64_t>(x.size(), a->size() - off));
                a->read(off, std::span(x.data(), n));
                b->read(off, std::span(y.data(), n));
                QVERIFY2(std::equal(x.begin(), x.begin() + n, y.begin()),
                         qPrintable(QStringLiteral("differs in MiB %1").arg(off >> 20)));
            }
        }

        QVERIFY(window.selectVm(QStringLiteral("Demo")));
        QVERIFY(window.cloneSelected(QStringLiteral("Shared"), false) == nullptr);
        QVERIFY(library.contains(QStringLiteral("Shared")));
        const VmDefinition& shared = library.at(library.indexOf(QStringLiteral("Shared")));
        QCOMPARE(shared.disks[0].file,
                 library.at(library.indexOf(QStringLiteral("Demo"))).disks[0].file);
        QVERIFY(shared.disks[0].readOnly);
        window.close();
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
