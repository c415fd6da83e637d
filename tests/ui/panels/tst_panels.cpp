// The panels' actions on real images: images (details, grow-only resize refused while the VM
// runs, create and convert jobs), bitmaps (add, checkpoint rotation, clear, enable/disable,
// merge, remove, refusal while exported, guidance for inconsistent bitmaps) and the export
// commands text.
#include "TestImages.h"
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "ui/AppContext.h"
#include "ui/jobs/JobRunner.h"
#include "ui/log/LogModel.h"
#include "ui/panels/BitmapMapWidget.h"
#include "ui/panels/BitmapTableModel.h"
#include "ui/panels/BitmapsPanel.h"
#include "ui/panels/ExportCommands.h"
#include "ui/panels/ExportsPanel.h"
#include "ui/panels/ImageJobs.h"
#include "ui/panels/ImageTableModel.h"
#include "ui/panels/ImagesPanel.h"

#include <QMessageBox>
#include <QSignalSpy>
#include <QTest>

using namespace e2kvm;
using namespace e2kvm::ui;

namespace {
struct Context {
    vm::BlockNodeTable nodes;
    vm::NbdExportService exports{nodes};
    JobRunner jobs;
    LogModel log;
    AppContext app{&nodes, &exports, &jobs, &log};
    bool logged(const QString& needle) const {
        for (int r = 0; r < log.rowCount(); ++r)
            if (log.entry(r).text.contains(needle))
                return true;
        return false;
    }
};

// Closes the error boxes the panels opened (non-blocking), returning their texts.
QStringList takeErrorBoxes(QWidget& panel) {
    QStringList texts;
    for (auto* box : panel.findChildren<QMessageBox*>("panelErrorBox")) {
        texts << box->text();
        box->close();
        delete box;
    }
    return texts;
}
} // namespace

class PanelsTest : public QObject {
    Q_OBJECT
private slots:
    void init() { QVERIFY(dir_.isValid()); }
    void imagesDetailsAndResize();
    void imagesCreateAndConvertJobs();
    void convertCancelRemovesTarget();
    void bitmapActionsAndCheckpoint();
    void rawImageBitmapsLiveInMemory();
    void bitmapChangeRefusedWhileExported();
    void inconsistentBitmapGuidance();
    void exportCommandsText();
    void panelsRenderWithVisibleMap();

private:
    QString path(const QString& name) const { return dir_.filePath(name); }
    QTemporaryDir dir_;
};

void PanelsTest::imagesDetailsAndResize() {
    Context ctx;
    test::makeQcow2WithBitmap(path("vm.qcow2").toStdString(), 8 << 20, "b", {{0, 65536}});
    ImagesPanel panel(ctx.app);
    panel.setImages({path("vm.qcow2")});
    QCOMPARE(panel.currentFile(), path("vm.qcow2"));
    QVERIFY2(panel.detailsText().contains("Virtual size: 8 MiB (8388608 bytes)"),
             qPrintable(panel.detailsText()));
    QVERIFY2(panel.detailsText().contains("Bitmap b: granularity 64 KiB"),
             qPrintable(panel.detailsText()));

    panel.setVmRunning(true);
    QVERIFY(!panel.resizeCurrent(16 << 20));
    QStringList errors = takeErrorBoxes(panel);
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors[0].contains("refused while the VM is running"), qPrintable(errors[0]));
    // Looking (and a refused resize) opened nothing for writing.
    QVERIFY(!ctx.nodes.findByFile(path("vm.qcow2").toStdString()));

    panel.setVmRunning(false);
    QVERIFY(!panel.resizeCurrent(4 << 20)); // grow only
    errors = takeErrorBoxes(panel);
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors[0].contains("must be larger than the current size"), qPrintable(errors[0]));
    // The resize the user asked for opened it for writing, in the node table.
    auto node = ctx.nodes.findByFile(path("vm.qcow2").toStdString());
    QVERIFY(node);
    QCOMPARE(node->image->size(), uint64_t(8 << 20));
    QVERIFY(panel.resizeCurrent(16 << 20));
    QCOMPARE(node->image->size(), uint64_t(16 << 20));
    QCOMPARE(
        panel.model()->data(panel.model()->index(0, ImageTableModel::VirtualSizeColumn)).toString(),
        QStringLiteral("16 MiB"));
    QVERIFY(ctx.logged("Resized"));
    // The bitmap followed the disk.
    QCOMPARE(node->image->bitmaps()->usable("b")->diskSize(), uint64_t(16 << 20));
}

void PanelsTest::imagesCreateAndConvertJobs() {
    Context ctx;
    ImagesPanel panel(ctx.app);
    CreateImageRequest req;
    req.file = path("new.qcow2").toStdString();
    req.size = 4 << 20;
    req.clusterSize = 65536;
    QSignalSpy done(&ctx.jobs, &JobRunner::jobFinished);
    panel.createImage(req);
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 20000);
    QVERIFY2(done.at(0).at(1).toBool(), qPrintable(done.at(0).at(2).toString()));
    QCOMPARE(panel.model()->rowCount(), 1); // added to the list
    QCOMPARE(panel.currentFile(), path("new.qcow2"));

    // Creating over an existing file is refused with the reason.
    panel.createImage(req);
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 2, 20000);
    QVERIFY(!done.at(1).at(1).toBool());
    QVERIFY2(done.at(1).at(2).toString().contains("file exists"),
             qPrintable(done.at(1).at(2).toString()));
    takeErrorBoxes(panel);

    // Write a pattern (as a VM with the image open would), convert to raw, read it back from
    // the copy.
    QVERIFY(!ctx.nodes.findByFile(req.file)); // the panel only looks at it
    auto node = ctx.nodes.open(req.file, "", false);
    std::vector<uint8_t> pattern(3 * 65536 + 100);
    for (size_t i = 0; i < pattern.size(); ++i)
        pattern[i] = uint8_t(i * 7 + 1);
    node->image->write(1 << 20, pattern);
    panel.convertCurrent(path("copy.raw"), "raw");
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 3, 20000);
    QVERIFY2(done.at(2).at(1).toBool(), qPrintable(done.at(2).at(2).toString()));
    block::OpenOptions o;
    o.format = "raw";
    auto copy = block::openImage(path("copy.raw").toStdString(), o);
    QCOMPARE(copy->size(), uint64_t(4 << 20));
    std::vector<uint8_t> back(pattern.size());
    copy->read(1 << 20, back);
    QVERIFY(back == pattern);
    // Check runs as a job and reports qemu-img's verdict.
    panel.selectFile(path("new.qcow2"));
    panel.checkCurrent(false);
    QTRY_COMPARE_WITH_TIMEOUT(done.count(), 4, 20000);
    QVERIFY2(done.at(3).at(1).toBool(), qPrintable(done.at(3).at(2).toString()));
    QVERIFY2(done.at(3).at(2).toString().startsWith("No errors were found on the image"),
             qPrintable(done.at(3).at(2).toString()));
    std::vector<uint8_t> head(4096, 0xff);
    copy->read(0, head);
    QVERIFY(std::all_of(head.begin(), head.end(), [](uint8_t b) { return b == 0; }));
}

void PanelsTest::convertCancelRemovesTarget() {
    // Straight through the job function: a cancel before the first chunk leaves no file.
    block::CreateOptions c;
    c.format = "raw";
    c.size = 64 << 20;
    c.sizeGiven = true;
    block::createImage(path("src.raw").toStdString(), c);
    block::OpenOptions o;
    o.format = "raw";
    auto src = block::openImage(path("src.raw").toStdString(), o);
    JobProgress progress("convert");
    progress.requestCancel();
    ConvertRequest req;
    req.target = path("dst.qcow2").toStdString();
    QVERIFY_THROWS_EXCEPTION(JobCancelled, convertImageJob(*src, req, progress));
    QVERIFY(!QFile::exists(path("dst.qcow2")));
}

void PanelsTest::bitmapActionsAndCheckpoint() {
    Context ctx;
    test::makeQcow2WithBitmap(path("d.qcow2").toStdString(), 16 << 20, "base",
                              {{0, 65536}, {1 << 20, 4096}});
    BitmapsPanel panel(ctx.app);
    panel.setImages({path("d.qcow2")});
    BitmapTableModel* model = panel.model();
    QCOMPARE(model->rowCount(), 1);
    QCOMPARE(panel.selectedBitmap(), QStringLiteral("base"));
    QCOMPARE(panel.mapWidget()->cells().dirtyBytes(), uint64_t(2 * 65536));

    QVERIFY(panel.newCheckpoint("ckpt1"));
    QCOMPARE(model->rowCount(), 2);
    auto node = ctx.nodes.findByFile(path("d.qcow2").toStdString());
    auto* catalog = node->image->bitmaps();
    QVERIFY(!catalog->find("base")->enabled);
    QVERIFY(catalog->find("ckpt1")->enabled);
    QVERIFY(ctx.logged("checkpoint 'ckpt1' started; disabled 'base'"));
    QCOMPARE(panel.selectedBitmap(), QStringLiteral("ckpt1"));

    // Writes go only to the new checkpoint's bitmap.
    std::vector<uint8_t> data(4096, 1);
    node->image->write(8 << 20, data);
    QCOMPARE(catalog->usable("ckpt1")->dirtyBytes(), uint64_t(65536));
    QCOMPARE(catalog->usable("base")->dirtyBytes(), uint64_t(2 * 65536));

    QVERIFY(panel.mergeBitmap("ckpt1", "base"));
    QCOMPARE(catalog->usable("ckpt1")->dirtyBytes(), uint64_t(3 * 65536));
    QVERIFY(panel.changeBitmap(block::BitmapActionKind::Clear, "base"));
    QCOMPARE(catalog->usable("base")->dirtyBytes(), uint64_t(0));
    QVERIFY(panel.changeBitmap(block::BitmapActionKind::Enable, "base"));
    QVERIFY(catalog->find("base")->enabled);
    QVERIFY(panel.changeBitmap(block::BitmapActionKind::Disable, "base"));
    QVERIFY(!catalog->find("base")->enabled);
    QVERIFY(panel.addBitmap("extra", 4096));
    QCOMPARE(catalog->find("extra")->granularity, uint64_t(4096));
    QVERIFY(!panel.addBitmap("extra")); // duplicate: refused with the block layer's message
    QStringList errors = takeErrorBoxes(panel);
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors[0].contains("extra"), qPrintable(errors[0]));
    QVERIFY(panel.changeBitmap(block::BitmapActionKind::Remove, "extra"));
    QVERIFY(!catalog->find("extra"));
    QCOMPARE(model->rowCount(), 2);
    // The map follows the selection.
    panel.selectBitmap("ckpt1");
    QCOMPARE(panel.mapWidget()->cells().dirtyBytes(), uint64_t(3 * 65536));
}

void PanelsTest::rawImageBitmapsLiveInMemory() {
    Context ctx;
    block::CreateOptions c;
    c.format = "raw";
    c.size = 4 << 20;
    c.sizeGiven = true;
    block::createImage(path("m.raw").toStdString(), c);
    BitmapsPanel panel(ctx.app);
    panel.setImages({path("m.raw")});
    QVERIFY(panel.addBitmap("session"));
    QVERIFY(panel.newCheckpoint("next"));
    QVERIFY(takeErrorBoxes(panel).isEmpty());
    QVERIFY(ctx.logged("bitmap 'session' added, in memory only"));
    auto node = ctx.nodes.findByFile(path("m.raw").toStdString());
    auto* catalog = node->image->bitmaps();
    QVERIFY(!catalog->find("session")->persistent);
    QVERIFY(!catalog->find("next")->persistent);
    std::vector<uint8_t> data(4096, 1);
    node->image->write(1 << 20, data);
    QCOMPARE(catalog->usable("next")->dirtyBytes(), uint64_t(65536));
    QCOMPARE(catalog->usable("session")->dirtyBytes(), uint64_t(0));
}

void PanelsTest::bitmapChangeRefusedWhileExported() {
    Context ctx;
    test::makeQcow2WithBitmap(path("e.qcow2").toStdString(), 4 << 20, "pub", {{0, 4096}});
    BitmapsPanel panel(ctx.app);
    panel.setImages({path("e.qcow2")});
    // A read-only export publishes a frozen bitmap only.
    QVERIFY(panel.changeBitmap(block::BitmapActionKind::Disable, "pub"));
    auto node = ctx.nodes.findByFile(path("e.qcow2").toStdString());
    vm::NbdListenAddress a;
    a.port = 0;
    try {
        ctx.exports.start(a);
        vm::NbdExportRequest req;
        req.nodeName = node->name;
        req.exportName = "e";
        req.bitmaps = {"pub"};
        ctx.exports.add(req);
    } catch (const std::exception& e) {
        QFAIL(e.what());
    }
    QVERIFY(!panel.changeBitmap(block::BitmapActionKind::Clear, "pub"));
    QVERIFY(!panel.changeBitmap(block::BitmapActionKind::Enable, "pub"));
    QStringList errors = takeErrorBoxes(panel);
    QCOMPARE(errors.size(), 2);
    QVERIFY2(errors[0].contains("published by export 'e'"), qPrintable(errors[0]));
    QCOMPARE(node->image->bitmaps()->usable("pub")->dirtyBytes(), uint64_t(65536));
    QVERIFY(!node->image->bitmaps()->find("pub")->enabled);
    ctx.exports.stop();
    QVERIFY(panel.changeBitmap(block::BitmapActionKind::Clear, "pub"));
}

void PanelsTest::inconsistentBitmapGuidance() {
    // A copy of an image taken while it is open for writing has its bitmap marked in use: the
    // state after a crash.
    test::makeQcow2WithBitmap(path("live.qcow2").toStdString(), 4 << 20, "b", {{0, 4096}});
    {
        block::OpenOptions o;
        o.format = "qcow2";
        o.readOnly = false;
        auto live = block::openImage(path("live.qcow2").toStdString(), o);
        std::vector<uint8_t> data(4096, 3);
        live->write(65536, data);
        live->flush();
        QVERIFY(QFile::copy(path("live.qcow2"), path("crashed.qcow2")));
    }
    Context ctx;
    BitmapsPanel panel(ctx.app);
    panel.setImages({path("crashed.qcow2")});
    QCOMPARE(panel.model()->rowCount(), 1);
    QVERIFY2(panel.model()->bitmaps()[0].inconsistent,
             "the qcow2 driver no longer marks bitmaps in use while the image is open");
    QString guidance = panel.guidanceText();
    QCOMPARE(guidance, QString::fromStdString(block::BitmapCatalog::inconsistentMessage(
                           path("crashed.qcow2").toStdString(), "b")));
    QVERIFY(!panel.changeBitmap(block::BitmapActionKind::Clear, "b"));
    takeErrorBoxes(panel);
    QVERIFY(panel.changeBitmap(block::BitmapActionKind::Remove, "b"));
    QCOMPARE(panel.model()->rowCount(), 0);
    QVERIFY(panel.guidanceText().isEmpty());
}

void PanelsTest::exportCommandsText() {
    ExportEndpoint e;
    e.host = "127.0.0.1";
    e.port = 10809;
    e.exportName = "disk.qcow2";
    QCOMPARE(QString::fromStdString(qemuImgMapCommand(e, "ckpt1")),
             QStringLiteral("qemu-img map --output=json --image-opts "
                            "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=10809,"
                            "export=disk.qcow2,x-dirty-bitmap=qemu:dirty-bitmap:ckpt1"));
    QCOMPARE(QString::fromStdString(nbdinfoMapCommand(e, "ckpt1")),
             QStringLiteral("nbdinfo --map=qemu:dirty-bitmap:ckpt1 nbd://127.0.0.1:10809/"
                            "disk.qcow2"));
    // Awkward names are quoted for the shell and for QEMU's option syntax.
    QCOMPARE(QString::fromStdString(nbdinfoMapCommand(e, "it's, odd")),
             QStringLiteral("nbdinfo '--map=qemu:dirty-bitmap:it'\\''s, odd' "
                            "nbd://127.0.0.1:10809/disk.qcow2"));
    QVERIFY(QString::fromStdString(qemuImgMapCommand(e, "a,b")).contains("dirty-bitmap:a,,b"));
    e.tlsDir = "/etc/pki/e2kvm";
    QCOMPARE(QString::fromStdString(nbdinfoUri(e)),
             QStringLiteral("nbds://127.0.0.1:10809/disk.qcow2?tls-certificates=/etc/pki/e2kvm"));
    QVERIFY(QString::fromStdString(qemuImgMapCommand(e, "b"))
                .contains("--object tls-creds-x509,id=tls0,endpoint=client,dir=/etc/pki/e2kvm"));
    QCOMPARE(QString::fromStdString(exportNameForFile("/vms/my disk (1).qcow2")),
             QStringLiteral("my_disk__1_.qcow2"));
    std::string both = changedExtentsCommands(e, {"a", "b"});
    QCOMPARE(std::count(both.begin(), both.end(), '\n'), 6L);
}

void PanelsTest::panelsRenderWithVisibleMap() {
    // The three panels laid out at a window size: the map inside the bitmaps panel shows the
    // dirty cells. E2KVM_SCREENSHOT_DIR=dir saves the renderings for a look by eye.
    Context ctx;
    test::makeQcow2WithBitmap(path("shot.qcow2").toStdString(), 64 << 20, "daily",
                              {{0, 1 << 20}, {8 << 20, 4096}, {40 << 20, 3 << 20}});
    ImagesPanel images(ctx.app);
    BitmapsPanel bitmaps(ctx.app);
    ExportsPanel exports(ctx.app);
    images.setImages({path("shot.qcow2")});
    bitmaps.setImages({path("shot.qcow2")});
    exports.setImages({path("shot.qcow2")});
    exports.setCurrentImage(path("shot.qcow2"));
    QCOMPARE(exports.offeredBitmaps(), QStringList{"daily"});
    QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR");
    int dirtyPixels = 0;
    for (QWidget* w : std::initializer_list<QWidget*>{&images, &bitmaps, &exports}) {
        w->resize(900, 640);
        w->show();
        QVERIFY(QTest::qWaitForWindowExposed(w));
        QImage shot = w->grab().toImage();
        if (!dir.isEmpty())
            shot.save(dir + "/" + w->metaObject()->className() + QStringLiteral(".png"));
        if (w == &bitmaps)
            for (int y = 0; y < shot.height(); ++y)
                for (int x = 0; x < shot.width(); ++x)
                    dirtyPixels += shot.pixelColor(x, y) == BitmapMapWidget::dirtyColor();
    }
    // 1 MiB + 64 KiB + 3 MiB dirty in 64 KiB cells: 65 cells of 8x8 pixels, as far as visible.
    QVERIFY2(dirtyPixels >= 8 * 8 * 20, qPrintable(QString::number(dirtyPixels)));
}

QTEST_MAIN(PanelsTest)
#include "tst_panels.moc"
