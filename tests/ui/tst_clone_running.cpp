// Clone copies the VM's disk files, which is a point in time only while nothing writes them:
// the action is disabled while the VM runs or is paused, saying why (tool tip and status tip),
// cloneSelected() refuses then, and both work again once the VM is shut down.
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "ui/AppContext.h"
#include "ui/library/DemoVm.h"
#include "ui/library/GuestFiles.h"
#include "ui/library/VmLibrary.h"
#include "ui/mainwindow/MainWindow.h"
#include "ui/mainwindow/VmSession.h"

#include <QAction>
#include <QTemporaryDir>
#include <QTest>

using namespace e2kvm;
using namespace e2kvm::ui;

class TestCloneRunning : public QObject {
    Q_OBJECT
private slots:
    void cloneIsDisabledWhileTheVmRuns() {
        GuestFiles guest = GuestFiles::locate(QStringLiteral(E2KVM_TEST_GUEST_DIR));
        if (guest.rom.isEmpty() || guest.demoDisk.isEmpty())
            QSKIP("the guest ROM and demo disk are not built (target e2kvm_guest)");
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        vm::BlockNodeTable nodes;
        vm::NbdExportService exports{nodes};
        AppContext ctx;
        ctx.nodes = &nodes;
        ctx.exports = &exports;
        const QString dataDir = tmp.filePath(QStringLiteral("data"));
        VmLibrary library{tmp.filePath(QStringLiteral("vms"))};
        library.add(makeDemoVm(guest.demoDisk, dataDir));

        MainWindow window(ctx, library, guest, dataDir);
        window.setProperty("noConfirm", true);
        QAction* clone = window.cloneAction();
        QVERIFY(clone);
        QVERIFY(clone->isEnabled()); // selected and stopped

        QVERIFY(window.runSelected());
        VmSession* session = window.selectedSession();
        QVERIFY(session && session->isActive());
        QVERIFY(!clone->isEnabled());
        QVERIFY2(clone->toolTip().contains(QStringLiteral("point in time")),
                 qPrintable(clone->toolTip()));
        QCOMPARE(clone->statusTip(), clone->toolTip());
        // Asked anyway (a script, a stale menu): refused, nothing joins the library.
        QVERIFY(window.cloneSelected(QStringLiteral("Live"), true) == nullptr);
        QVERIFY(window.cloneSelected(QStringLiteral("LiveShared"), false) == nullptr);
        QVERIFY(!library.contains(QStringLiteral("Live")));
        QVERIFY(!library.contains(QStringLiteral("LiveShared")));

        // Paused is still not a point in time: it may be resumed while the copy runs.
        session->pause();
        QTRY_COMPARE_WITH_TIMEOUT(session->stateName(), QStringLiteral("paused"), 10000);
        QVERIFY(!clone->isEnabled());

        session->resume();
        session->shutDown();
        QTRY_VERIFY_WITH_TIMEOUT(!session->isActive(), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(clone->isEnabled(), 5000);
        QVERIFY(!clone->toolTip().contains(QStringLiteral("point in time")));
        QVERIFY(window.cloneSelected(QStringLiteral("Shared"), false) == nullptr);
        QVERIFY(library.contains(QStringLiteral("Shared")));
        window.close();
    }
};

QTEST_MAIN(TestCloneRunning)
#include "tst_clone_running.moc"
