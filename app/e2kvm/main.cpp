// e2kvm: the desktop application: the VM library, the console of the selected VM, image,
// bitmap and NBD export panels, and optionally QMP sockets (--qmp, as many as wanted) for
// scripts and backup tools.
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/JobTable.h"
#include "app/vmcore/NbdExportService.h"
#include "app/vmcore/PointInTimeExports.h"
#include "ui/AppContext.h"
#include "ui/console/ConsoleWidget.h"
#include "ui/library/DemoVm.h"
#include "ui/library/GuestFiles.h"
#include "ui/library/VmLibrary.h"
#include "ui/mainwindow/MainWindow.h"
#include "ui/mainwindow/VmSession.h"
#include "ui/panels/ExportsPanel.h"

#include "app/e2kvm/SelectedVmMachine.h"
#include "app/qmp/QmpContext.h"
#include "app/qmp/QmpServer.h"
#include "emu/machine/MachineRunner.h"
#include "ui/jobs/JobRunner.h"
#include "ui/log/BlockLogRoute.h"
#include "ui/log/LogModel.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QElapsedTimer>
#include <QIcon>
#include <QPointer>
#include <QStandardPaths>
#include <QTimer>

#include <cstdio>
#include <memory>

using namespace e2kvm;

namespace {

[[noreturn]] void die(const QString& message) {
    std::fprintf(stderr, "e2kvm: %s\n", qPrintable(message));
    std::exit(1);
}

// --screenshot-dir: once the VM has shown its first frame, types "e2k" into the guest (the demo
// writes one disk record per key, so its dirty bitmap changes), makes the Exports tab's one-click
// export of the running VM's disk (a point in time), waits a moment for the guest and the panels
// to draw, saves the console, bitmaps and exports tabs and the whole window as PNGs, and quits
// (status 0 only if the three tab screenshots were saved).
void armScreenshotHook(ui::MainWindow& window, const QString& dir, const QElapsedTimer& launch) {
    if (!QDir().mkpath(dir))
        die(QStringLiteral("%1: cannot create the screenshot directory").arg(dir));
    QObject::connect(
        window.console(), &ui::ConsoleWidget::firstFrame, &window, [&window, dir, &launch] {
            std::fprintf(stderr, "e2kvm: first frame %lld ms after launch\n",
                         static_cast<long long>(launch.elapsed()));
            QTimer::singleShot(500, &window, [&window] {
                for (uint16_t key : {uint16_t(0x12), uint16_t(0x03), uint16_t(0x25)}) // e, 2, k
                    window.console()->sendKeys({key});
            });
            QTimer::singleShot(1500, &window, [&window] {
                auto* exports =
                    qobject_cast<ui::ExportsPanel*>(window.tabPage(QStringLiteral("Exports")));
                if (!exports)
                    return;
                ui::ExportChoice choice = exports->currentChoice();
                QString name = exports->exportImage(choice);
                std::fprintf(stderr, "e2kvm: exported %s as '%s'%s\n", qPrintable(choice.file),
                             qPrintable(name), choice.pointInTime ? " (point in time)" : "");
            });
            QTimer::singleShot(3000, &window, [&window, dir] {
                int saved = 0;
                for (const char* tab : {"Console", "Bitmaps", "Exports"}) {
                    QString title = QString::fromLatin1(tab);
                    QWidget* page = window.tabPage(title);
                    if (!page) {
                        std::fprintf(stderr, "e2kvm: no %s tab to capture\n", tab);
                        continue;
                    }
                    window.showTab(title);
                    QApplication::processEvents();
                    QString path = QDir(dir).filePath(title.toLower() + QStringLiteral(".png"));
                    if (page->grab().save(path, "PNG"))
                        ++saved;
                    else
                        std::fprintf(stderr, "e2kvm: cannot save %s\n", qPrintable(path));
                }
                window.showTab(QStringLiteral("Console"));
                QApplication::processEvents();
                window.grab().save(QDir(dir).filePath(QStringLiteral("window.png")), "PNG");
                std::fprintf(stderr, "e2kvm: %d screenshots saved in %s\n", saved, qPrintable(dir));
                window.setProperty("noConfirm", true);
                window.close();
                QApplication::exit(saved == 3 ? 0 : 1);
            });
        });
    QTimer::singleShot(120000, &window, [] {
        std::fprintf(stderr, "e2kvm: no frame within 120 s; giving up\n");
        QApplication::exit(1);
    });
}

// The devices QMP plugs into `session`'s run go when the run ends (its VM stops or the session
// goes). Once per session.
void endRunWithSession(app::SelectedVmMachine& qmpMachine, ui::VmSession* session) {
    if (session->property("qmpRunWatched").toBool())
        return;
    session->setProperty("qmpRunWatched", true);
    const emu::MachineRunner* runner = session->runner().get();
    QObject::connect(
        session, &ui::VmSession::stateChanged, session, [&qmpMachine, session, runner] {
            if (!session->isActive() && session->runner()->state() != emu::RunState::Prelaunch)
                qmpMachine.endRun(runner);
        });
    QObject::connect(session, &QObject::destroyed,
                     [&qmpMachine, runner] { qmpMachine.endRun(runner); });
}

} // namespace

int main(int argc, char** argv) {
    QElapsedTimer launch;
    launch.start();
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("e2kvm"));
    QApplication::setOrganizationName(QString());
    QApplication::setApplicationVersion(QStringLiteral("0.1.0"));
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/e2kvm.png")));
    QApplication::setDesktopFileName(QStringLiteral("e2kvm"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("e2kvm: Elbrus 2000 virtual machines with incremental disk backup"));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption qmpOpt(QStringLiteral("qmp"),
                              QStringLiteral("Serve QMP on ADDR (unix:PATH,server=on,wait=off); "
                                             "may be given more than once."),
                              QStringLiteral("ADDR"));
    QCommandLineOption vmOpt(QStringLiteral("vm"), QStringLiteral("Select the VM NAME at start."),
                             QStringLiteral("NAME"));
    QCommandLineOption runOpt(QStringLiteral("run"),
                              QStringLiteral("Start the selected VM at launch."));
    QCommandLineOption shotOpt(QStringLiteral("screenshot-dir"),
                               QStringLiteral("Test hook: after the VM's first frame save console, "
                                              "bitmaps and exports screenshots in DIR, then quit."),
                               QStringLiteral("DIR"));
    QCommandLineOption configOpt(
        QStringLiteral("config-dir"),
        QStringLiteral("Keep VM definitions in DIR/vms instead of $XDG_CONFIG_HOME/e2kvm/vms."),
        QStringLiteral("DIR"));
    QCommandLineOption dataOpt(
        QStringLiteral("data-dir"),
        QStringLiteral("Create new disks in DIR instead of $XDG_DATA_HOME/e2kvm."),
        QStringLiteral("DIR"));
    QCommandLineOption guestOpt(QStringLiteral("guest-dir"),
                                QStringLiteral("Find e2kvm-rom.bin and demo-disk.raw in DIR."),
                                QStringLiteral("DIR"));
    parser.addOptions({qmpOpt, vmOpt, runOpt, shotOpt, configOpt, dataOpt, guestOpt});
    parser.process(app);

    QString libraryDir = parser.isSet(configOpt) ? parser.value(configOpt) + QStringLiteral("/vms")
                                                 : ui::VmLibrary::defaultDirectory();
    QString dataDir = parser.isSet(dataOpt)
                          ? parser.value(dataOpt)
                          : QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
    ui::GuestFiles guest = ui::GuestFiles::locate(parser.value(guestOpt));

    vm::BlockNodeTable nodes;
    vm::NbdExportService exports(nodes);
    ui::AppContext ctx;
    ctx.nodes = &nodes;
    ctx.exports = &exports;
    ui::JobRunner jobs;
    ctx.jobs = &jobs;
    ui::LogModel log;
    ctx.log = &log;
    // The block layer's warnings (an image a bitmap-unaware program modified, bitmaps that
    // could not be saved) go to the Log tab; after the log is gone, to stderr again.
    ui::BlockLogRoute blockLog(log);
    // One job table for the GUI and every QMP monitor: a backup started by either is seen by
    // both. Declared after the nodes and exports they use, so destroyed before them.
    vm::JobTable blockJobs(nodes);
    ctx.blockJobs = &blockJobs;
    vm::PointInTimeExports pointInTime(nodes, blockJobs, exports);
    ctx.pointInTime = &pointInTime;

    ui::VmLibrary library(libraryDir);
    library.reload();
    QStringList startupMessages = library.loadErrors();
    if (library.count() == 0 && library.loadErrors().isEmpty()) {
        try {
            library.add(ui::makeDemoVm(guest.demoDisk, dataDir));
            startupMessages << QStringLiteral("created the Demo VM in %1").arg(dataDir);
        } catch (const std::exception& e) {
            startupMessages << QStringLiteral("cannot create the Demo VM: %1 (searched %2)")
                                   .arg(QString::fromStdString(e.what()),
                                        guest.searched.join(QStringLiteral(", ")));
        }
    }

    app::SelectedVmMachine qmpMachine(nodes);
    std::unique_ptr<qmp::QmpContext> qmpContext;
    std::unique_ptr<qmp::QmpServer> qmpServer;

    ui::MainWindow window(ctx, library, guest, dataDir);
    for (const QString& m : startupMessages)
        window.log(m.startsWith(QLatin1String("created")) ? QStringLiteral("info")
                                                          : QStringLiteral("warning"),
                   m);

    if (parser.isSet(qmpOpt)) {
        try {
            qmpContext = std::make_unique<qmp::QmpContext>(nodes, exports, &qmpMachine, &blockJobs);
            qmpMachine.setIothreads(&qmpContext->iothreads);
            qmpContext->setOnQuit([] {
                QMetaObject::invokeMethod(
                    qApp,
                    [] {
                        for (QWidget* w : QApplication::topLevelWidgets())
                            w->setProperty("noConfirm", true);
                        QApplication::closeAllWindows();
                        QApplication::quit();
                    },
                    Qt::QueuedConnection);
            });
            // One server listening on every --qmp address; each client gets every event.
            qmpServer = std::make_unique<qmp::QmpServer>(*qmpContext);
        } catch (const std::exception& e) {
            die(QStringLiteral("--qmp: %1").arg(QString::fromStdString(e.what())));
        }
        for (const QString& address : parser.values(qmpOpt)) {
            try {
                qmpServer->listen(qmp::parseQmpAddress(address.toStdString()));
            } catch (const std::exception& e) {
                die(QStringLiteral("--qmp %1: %2").arg(address, QString::fromStdString(e.what())));
            }
        }
        qmpServer->start();
        auto previous = std::make_shared<QPointer<ui::VmSession>>();
        QObject::connect(&window, &ui::MainWindow::selectedSessionChanged, &window,
                         [&qmpMachine, previous](ui::VmSession* session) {
                             if (*previous)
                                 (*previous)->setEventListener({});
                             *previous = session;
                             if (!session) {
                                 qmpMachine.setRunner(nullptr, {}, {});
                                 return;
                             }
                             endRunWithSession(qmpMachine, session);
                             std::vector<qmp::QmpMachineDisk> disks;
                             for (size_t i = 0; i < session->disks().size(); ++i) {
                                 // Each disk as a virtio-blk device without an id would stand in
                                 // QEMU.
                                 std::string qomPath =
                                     "/machine/peripheral-anon/device[" + std::to_string(i) + "]";
                                 qmp::QmpMachineDisk disk{"disk" + std::to_string(i),
                                                          session->diskNodeName(i),
                                                          qomPath + "/virtio-backend", false};
                                 disk.qomPath = qomPath;
                                 disk.handle = session->diskHandles()[i];
                                 disk.user = session->user();
                                 disks.push_back(std::move(disk));
                             }
                             qmpMachine.setRunner(session->runner(),
                                                  session->definition().name.toStdString(), disks);
                             session->setEventListener([&qmpMachine](const emu::MachineEvent& ev) {
                                 qmpMachine.machineEvent(ev);
                             });
                         });
        // cont in prelaunch: Run the selected VM, as cont after qemu-system -S.
        qmpMachine.setStarter([&window] {
            QMetaObject::invokeMethod(
                &window, [&window] { window.runSelected(); }, Qt::QueuedConnection);
        });
    }

    QString vmName =
        parser.isSet(vmOpt) ? parser.value(vmOpt) : QString::fromLatin1(ui::kDemoVmName);
    if (!window.selectVm(vmName) && parser.isSet(vmOpt))
        die(QStringLiteral("--vm: no VM named '%1' in %2").arg(vmName, libraryDir));
    if (parser.isSet(shotOpt)) {
        if (!parser.isSet(runOpt))
            die(QStringLiteral("--screenshot-dir needs --run"));
        armScreenshotHook(window, parser.value(shotOpt), launch);
    }
    window.show();
    if (parser.isSet(runOpt) && !window.runSelected())
        return 1;
    int status = QApplication::exec();
    if (qmpServer)
        qmpServer->stop();
    return status;
}
