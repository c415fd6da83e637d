// Clone copies the VM's disk files, which is a point in time only while nothing writes them:
// the action is disabled while the VM runs or is paused, saying why (tool tip and status tip),
// cloneSelected() refuses then, and both work again once the VM is shut down. And the copy
// reads each disk in the VM's own format, never a probed one: a raw disk whose guest wrote a
// qcow2 header naming a host file is copied as the raw bytes it holds.
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "block/ImageOpen.h"
#include "ui/AppContext.h"
#include "ui/jobs/JobProgress.h"
#include "ui/library/DemoVm.h"
#include "ui/library/GuestFiles.h"
#include "ui/library/VmLibrary.h"
#include "ui/mainwindow/MainWindow.h"
#include "ui/mainwindow/VmSession.h"

#include <QAction>
#include <QFile>
#include <QSignalSpy>
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

    void cloneReadsARawDiskAsRaw() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        // A host file the guest must never see, and a raw disk (the format is given) that
        // starts with a whole qcow2 image naming it as backing file.
        const QString secret = tmp.filePath(QStringLiteral("secret"));
        {
            QFile f(secret);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QByteArray(1 << 20, 'S'));
        }
        const QString header = tmp.filePath(QStringLiteral("header.qcow2"));
        block::CreateOptions c;
        c.format = "qcow2";
        c.size = 1 << 20;
        c.sizeGiven = true;
        c.backingFile = secret.toStdString();
        c.backingFormat = "raw";
        block::createImage(header.toStdString(), c);
        const QString disk = tmp.filePath(QStringLiteral("disk.raw"));
        QByteArray diskBytes(4 << 20, '\0');
        {
            QFile h(header);
            QVERIFY(h.open(QIODevice::ReadOnly));
            const QByteArray image = h.readAll(); // what a guest can write into its disk
            diskBytes.replace(0, image.size(), image);
            QFile f(disk);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(diskBytes);
        }
        QCOMPARE(block::probeFormat(disk.toStdString()), std::string("qcow2"));

        vm::BlockNodeTable nodes;
        vm::NbdExportService exports{nodes};
        AppContext ctx;
        ctx.nodes = &nodes;
        ctx.exports = &exports;
        const QString dataDir = tmp.filePath(QStringLiteral("data"));
        VmLibrary library{tmp.filePath(QStringLiteral("vms"))};
        VmDefinition def;
        def.name = QStringLiteral("Raw");
        def.uuid = QUuid::createUuid();
        def.boot = BootKind::Kernel;
        def.bootPath = tmp.filePath(QStringLiteral("kernel.elf"));
        def.disks = {VmDisk{disk, QStringLiteral("raw"), false}};
        library.add(def);
        MainWindow window(ctx, library, GuestFiles{}, dataDir);
        window.setProperty("noConfirm", true);
        QVERIFY(window.selectVm(QStringLiteral("Raw")));
        JobProgress* job = window.cloneSelected(QStringLiteral("Copy"), true);
        QVERIFY(job);
        QSignalSpy finished(job, &JobProgress::finished);
        QTRY_VERIFY_WITH_TIMEOUT(finished.count() == 1, 30000);
        QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
        QTRY_VERIFY(library.contains(QStringLiteral("Copy")));
        const VmDefinition& copy = library.at(library.indexOf(QStringLiteral("Copy")));
        QFile f(copy.disks[0].file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY2(f.readAll() == diskBytes, "the clone's disk is not the raw disk's bytes");
        window.close();
    }
};

QTEST_MAIN(TestCloneRunning)
#include "tst_clone_running.moc"
