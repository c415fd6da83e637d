// One-click export of a running VM's disk takes a point in time: the Exports tab offers "Point
// in time" ticked for the running demo VM's disk, the export serves the overlay (not the disk)
// and keeps reading as of the click while the guest writes records and the test writes over the
// disk, the panel says when the point in time was taken, QMP (sharing the GUI's job table) sees
// the job, and Stop export removes the export, the job, the overlay node and its file. Once the
// VM is stopped the disk is exported as before.
#include "app/qmp/QmpContext.h"
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/JobTable.h"
#include "app/vmcore/NbdExportService.h"
#include "app/vmcore/PointInTimeExports.h"
#include "block/bitmap/BitmapCatalog.h"
#include "nbd/Client.h"
#include "nbd/NbdUri.h"
#include "ui/AppContext.h"
#include "ui/console/ConsoleWidget.h"
#include "ui/jobs/JobRunner.h"
#include "ui/library/DemoVm.h"
#include "ui/library/GuestFiles.h"
#include "ui/library/VmLibrary.h"
#include "ui/log/LogModel.h"
#include "ui/mainwindow/MainWindow.h"
#include "ui/mainwindow/VmSession.h"
#include "ui/panels/ExportsPanel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QFileInfo>
#include <QPushButton>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <mutex>

using namespace e2kvm;
using namespace e2kvm::ui;

namespace {

template <typename T> T* childWithText(QWidget* parent, const QString& prefix) {
    for (T* w : parent->findChildren<T*>())
        if (w->text().startsWith(prefix))
            return w;
    return nullptr;
}

std::vector<uint8_t> readAll(nbd::Client& c) {
    std::vector<uint8_t> out(c.size());
    for (uint64_t off = 0; off < out.size(); off += 1 << 20)
        c.read(off, std::span(out.data() + off, std::min<uint64_t>(1 << 20, out.size() - off)));
    return out;
}

std::vector<uint8_t> readAll(block::BlockDriver& d) {
    std::vector<uint8_t> out(d.size());
    d.read(0, out);
    return out;
}

} // namespace

class ExportsPointInTimeTest : public QObject {
    Q_OBJECT
private slots:
    void runningDiskIsExportedAsAPointInTime();
};

void ExportsPointInTimeTest::runningDiskIsExportedAsAPointInTime() {
    GuestFiles guest = GuestFiles::locate(QStringLiteral(E2KVM_TEST_GUEST_DIR));
    if (guest.rom.isEmpty() || guest.demoDisk.isEmpty())
        QSKIP("the guest ROM and demo disk are not built (target e2kvm_guest)");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    vm::BlockNodeTable nodes;
    vm::NbdExportService exports(nodes);
    vm::JobTable blockJobs(nodes);
    vm::PointInTimeExports pointInTime(nodes, blockJobs, exports);
    JobRunner jobs;
    LogModel log;
    AppContext ctx{&nodes, &exports, &jobs, &log, &blockJobs, &pointInTime};
    // QMP on the same job table, as app/e2kvm/main.cpp builds it.
    qmp::QmpContext qmp(nodes, exports, nullptr, &blockJobs);
    std::mutex eventsMutex;
    std::vector<std::string> events;
    qmp.setEventSink([&](const std::string& event, const qmp::Json& data) {
        std::lock_guard lock(eventsMutex);
        events.push_back(event + " " + data.serialize());
    });
    auto eventCount = [&](const std::string& needle) {
        std::lock_guard lock(eventsMutex);
        return std::count_if(events.begin(), events.end(), [&](const std::string& e) {
            return e.find(needle) != std::string::npos;
        });
    };

    const QString dataDir = tmp.filePath(QStringLiteral("data"));
    VmLibrary library{tmp.filePath(QStringLiteral("vms"))};
    library.add(makeDemoVm(guest.demoDisk, dataDir));
    MainWindow window(ctx, library, guest, dataDir);
    window.setProperty("noConfirm", true);
    auto* panel = qobject_cast<ExportsPanel*>(window.tabPage(QStringLiteral("Exports")));
    QVERIFY(panel);
    auto* pitBox = childWithText<QCheckBox>(panel, QStringLiteral("Point in time"));
    auto* writable = childWithText<QCheckBox>(panel, QStringLiteral("Writable"));
    auto* exportButton = childWithText<QPushButton>(panel, QStringLiteral("Export"));
    auto* table = panel->findChild<QTableWidget*>();
    QVERIFY(pitBox && writable && exportButton && table);
    QVERIFY(!pitBox->isEnabled()); // stopped VM: nothing to offer

    QSignalSpy first(window.console(), &ConsoleWidget::firstFrame);
    QVERIFY(window.runSelected());
    VmSession* session = window.selectedSession();
    QVERIFY(session && session->isActive());
    QTRY_VERIFY_WITH_TIMEOUT(first.count() > 0, 30000);
    auto disk = session->disks().at(0);
    const QString diskFile = QString::fromStdString(disk->file);

    // A checkpoint: a frozen bitmap the export publishes (offered ticked).
    block::BitmapAction actions[2];
    actions[0].kind = block::BitmapActionKind::Add;
    actions[0].name = "ckpt";
    actions[0].granularity = 65536;
    actions[1].kind = block::BitmapActionKind::Disable;
    actions[1].name = "ckpt";
    disk->image->bitmaps()->apply(actions);

    panel->setCurrentImage(diskFile);
    QVERIFY(panel->pointInTimeOffered());
    QVERIFY(pitBox->isEnabled());
    QVERIFY(pitBox->isChecked()); // the default for a running disk
    QVERIFY(!writable->isEnabled());
    ExportChoice choice = panel->currentChoice();
    QVERIFY(choice.pointInTime);
    QVERIFY(!choice.writable);
    // One click exports the newest checkpoint: the demo disk's recording bitmap, which
    // exporting freezes at the click; the older frozen one is offered unticked.
    QCOMPARE(choice.bitmaps, QStringList{QStringLiteral("backup")});
    QVERIFY(panel->offeredBitmaps().contains(QStringLiteral("ckpt")));

    const std::vector<uint8_t> atClick = readAll(*disk->image);
    QTest::mouseClick(exportButton, Qt::LeftButton);

    // The export serves a temporary overlay of the disk, in the job table QMP sees.
    auto frozen = pointInTime.list();
    QCOMPARE(frozen.size(), size_t(1));
    const vm::PointInTimeInfo info = frozen[0];
    QCOMPARE(info.sourceNode, disk->name);
    QVERIFY(QFile::exists(QString::fromStdString(info.overlayFile)));
    auto exported = exports.list();
    QCOMPARE(exported.size(), size_t(1));
    QCOMPARE(exported[0].nodeName, info.overlayNode);
    QVERIFY(!exported[0].writable);
    QCOMPARE(exported[0].bitmaps, (std::vector<std::string>{"backup"}));
    // "backup" was frozen at the point in time, and a new checkpoint records from then on.
    block::BitmapCatalog& catalog = *disk->image->bitmaps();
    QVERIFY(!catalog.find("backup")->enabled);
    int recording = 0;
    for (const block::NamedBitmap& b : catalog.list())
        if (b.enabled) {
            ++recording;
            QVERIFY2(b.name.rfind("ckpt-", 0) == 0, b.name.c_str());
        }
    QCOMPARE(recording, 1);
    QVERIFY(blockJobs.find(info.jobId));
    qmp::Json jobsSeen = qmp.execute("query-jobs", nullptr);
    QVERIFY2(jobsSeen.serialize().find("\"" + info.jobId + "\"") != std::string::npos,
             jobsSeen.serialize().c_str());
    QVERIFY(eventCount("JOB_STATUS_CHANGE") > 0);

    // The panel says it is a point in time, and when it was taken.
    const QRegularExpression taken(QStringLiteral("point in time at \\d\\d:\\d\\d:\\d\\d"),
                                   QRegularExpression::CaseInsensitiveOption);
    QCOMPARE(panel->exportRows(), 1);
    QVERIFY2(taken.match(table->item(0, 3)->text()).hasMatch(),
             qPrintable(table->item(0, 3)->text()));
    QCOMPARE(table->item(0, 1)->text(), QFileInfo(diskFile).fileName()); // the disk, not overlay
    const QString note = panel->selectedExportNote();
    QVERIFY2(note.contains(QRegularExpression(QStringLiteral("Point in time taken at "
                                                             "\\d\\d:\\d\\d:\\d\\d"))),
             qPrintable(note));
    QVERIFY(note.contains(QString::fromStdString(info.overlayFile)));
    const QString exportName = QString::fromStdString(info.exportName);
    QVERIFY(panel->commandsFor(exportName).startsWith(QStringLiteral("# Point in time taken at")));
    // The overlay is not offered as an image of its own.
    for (QComboBox* combo : panel->findChildren<QComboBox*>())
        QVERIFY(combo->findData(QString::fromStdString(info.overlayFile)) < 0);

    // The guest writes records (one per key), and the test overwrites the start of the disk:
    // the export still reads as at the click.
    for (uint16_t key : {uint16_t(0x12), uint16_t(0x03), uint16_t(0x25)})
        window.console()->sendKeys({key});
    QTRY_VERIFY_WITH_TIMEOUT(session->bytesWritten() >= 3 * 512, 20000);
    std::vector<uint8_t> scribble(65536, 0xa5);
    disk->image->write(0, scribble);
    const std::vector<uint8_t> now = readAll(*disk->image);
    QVERIFY(now != atClick);
    auto client = nbd::Client::connect(nbd::parseNbdUri(exports.uriFor(info.exportName)),
                                       {"qemu:dirty-bitmap:backup"});
    QVERIFY(readAll(*client) == atClick);
    client->disconnect();

    // Stop export releases everything, and QMP hears the job end.
    QVERIFY(panel->stopExport(exportName));
    QVERIFY(pointInTime.list().empty());
    QVERIFY(exports.list().empty());
    QVERIFY(!nodes.find(info.overlayNode));
    QVERIFY(!QFile::exists(QString::fromStdString(info.overlayFile)));
    QTRY_VERIFY(!blockJobs.find(info.jobId));
    QTRY_VERIFY(eventCount("\"concluded\"") > 0);
    QCOMPARE(panel->exportRows(), 0);
    QVERIFY(panel->selectedExportNote().isEmpty());
    QVERIFY(!disk->image->hasWriteInterceptors());
    QCOMPARE(readAll(*disk->image), now); // the disk keeps what the guest wrote

    // A QMP client deletes the next point-in-time export: it is released all the same, and the
    // log says why.
    auto logged = [&](const QString& needle) {
        for (int r = 0; r < log.rowCount(); ++r)
            if (log.entry(r).text.contains(needle))
                return true;
        return false;
    };
    QVERIFY(pitBox->isChecked());
    const QString again = panel->exportImage(panel->currentChoice());
    QVERIFY(!again.isEmpty());
    const vm::PointInTimeInfo second = pointInTime.list().at(0);
    QVERIFY(QFile::exists(QString::fromStdString(second.overlayFile)));
    qmp::Json del = qmp::Json::object({{"id", again.toStdString()}});
    qmp.execute("block-export-del", &del);
    QVERIFY(pointInTime.list().empty());
    QVERIFY(!nodes.find(second.overlayNode));
    QVERIFY(!QFile::exists(QString::fromStdString(second.overlayFile)));
    QTRY_VERIFY(logged(
        QStringLiteral("Point-in-time export %1 ended: its NBD export was removed").arg(again)));
    QTRY_COMPARE(panel->exportRows(), 0);

    // Unticked, a running disk is exported as before (the disk itself).
    pitBox->setChecked(false);
    QVERIFY(writable->isEnabled());
    QVERIFY(!panel->currentChoice().pointInTime);
    QString plain = panel->exportImage(panel->currentChoice());
    QVERIFY(!plain.isEmpty());
    QVERIFY(pointInTime.list().empty());
    QCOMPARE(exports.list().at(0).nodeName, disk->name);
    QVERIFY(panel->stopExport(plain));

    // A stopped VM's disk is exported as before, and "Point in time" is not offered.
    session->shutDown();
    QTRY_VERIFY_WITH_TIMEOUT(!session->isActive(), 10000);
    QTRY_VERIFY(!pitBox->isEnabled());
    QVERIFY(!pitBox->isChecked());
    QVERIFY(!panel->pointInTimeOffered());
    QVERIFY(!panel->currentChoice().pointInTime);
    plain = panel->exportImage(panel->currentChoice());
    QVERIFY(!plain.isEmpty());
    QVERIFY(pointInTime.list().empty());
    QCOMPARE(exports.list().at(0).nodeName, disk->name);
    QVERIFY(!panel->selectedExportNote().contains(QStringLiteral("Point in time")));
    QVERIFY(panel->stopExport(plain));
    window.close();
}

QTEST_MAIN(ExportsPointInTimeTest)
#include "tst_exports_point_in_time.moc"
