// The defects a GUI walkthrough found (issue 17), each checked on the panels with real images:
// the exports tab follows bitmap changes made elsewhere and one click exports the newest
// checkpoint only; outcomes show in the panel, not only in the log; and the others below.
#include "TestImages.h"
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "block/bitmap/BitmapCatalog.h"
#include "ui/AppContext.h"
#include "ui/console/ConsoleWidget.h"
#include "ui/jobs/JobRunner.h"
#include "ui/log/LogModel.h"
#include "ui/mainwindow/DetailsPage.h"
#include "ui/panels/BitmapMapWidget.h"
#include "ui/panels/BitmapNameDialog.h"
#include "ui/panels/BitmapOperations.h"
#include "ui/panels/BitmapTableModel.h"
#include "ui/panels/BitmapsPanel.h"
#include "ui/panels/CreateImageDialog.h"
#include "ui/panels/ExportsPanel.h"
#include "ui/panels/ImageTableModel.h"
#include "ui/panels/ImagesPanel.h"

#include <QComboBox>
#include <QDir>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
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
};

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

class WalkthroughTest : public QObject {
    Q_OBJECT
private slots:
    void init() { QVERIFY(dir_.isValid()); }
    void exportsFollowBitmapChanges();
    void imagesShowOutcomesAndConvertedImage();
    void createRelativeNameGoesToVmFolder();
    void resizeRefusedOnlyForImagesInUse();
    void imageDetailsFollowTheImage();
    void handAddedImagesBelongToTheirVm();
    void detailsApplyOnlyWhenChanged();
    void consoleSaysWhenNotLive();
    void zoomButtonsAndZoomKept();
    void addBitmapIsOneFormThatRefusesBadNames();
    void exportNameFieldAndServerStopsWithLastExport();

private:
    QString path(const QString& name) const { return dir_.filePath(name); }
    QTemporaryDir dir_;
};

void WalkthroughTest::exportsFollowBitmapChanges() {
    Context ctx;
    const QString file = path("disk.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 4 << 20, "ckpt1", {{0, 65536}});
    BitmapsPanel bitmaps(ctx.app);
    ExportsPanel exports(ctx.app);
    bitmaps.setImages({file});
    exports.setImages({file});
    exports.setCurrentImage(file);
    QCOMPARE(exports.offeredBitmaps(), QStringList{"ckpt1"});
    QCOMPARE(exports.currentChoice().bitmaps, QStringList{}); // ckpt1 still records

    // New checkpoint in the Bitmaps tab: the Exports tab lists it at its next refresh, with
    // the newest frozen checkpoint (ckpt1) ticked.
    QVERIFY(bitmaps.newCheckpoint("ckpt2"));
    exports.refresh();
    QCOMPARE(exports.offeredBitmaps(), (QStringList{"ckpt1", "ckpt2"}));
    QCOMPARE(exports.currentChoice().bitmaps, QStringList{"ckpt1"});
    // Another rotation: only the newest checkpoint is ticked, not every frozen bitmap.
    QVERIFY(bitmaps.newCheckpoint("ckpt3"));
    exports.refresh();
    QCOMPARE(exports.offeredBitmaps(), (QStringList{"ckpt1", "ckpt2", "ckpt3"}));
    QCOMPARE(exports.currentChoice().bitmaps, QStringList{"ckpt2"});
    // Add and Disable show too.
    QVERIFY(bitmaps.addBitmap("extra"));
    exports.refresh();
    QCOMPARE(exports.offeredBitmaps(), (QStringList{"ckpt1", "ckpt2", "ckpt3", "extra"}));
    QVERIFY(bitmaps.changeBitmap(block::BitmapActionKind::Disable, "extra"));
    exports.refresh();
    QCOMPARE(exports.currentChoice().bitmaps, QStringList{"extra"});
    // A tick the user set stays across a refresh of the same bitmaps.
    auto* list = exports.findChild<QListWidget*>();
    QVERIFY(list);
    list->item(0)->setCheckState(Qt::Checked);
    QVERIFY(bitmaps.addBitmap("more"));
    exports.refresh();
    QCOMPARE(exports.currentChoice().bitmaps, (QStringList{"ckpt1", "extra"}));
    QVERIFY(takeErrorBoxes(bitmaps).isEmpty());
}

void WalkthroughTest::imagesShowOutcomesAndConvertedImage() {
    Context ctx;
    const QString file = path("vm.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 4 << 20, "b", {{0, 65536}});
    ImagesPanel panel(ctx.app);
    panel.setImages({file});
    QVERIFY(panel.resultText().isEmpty());
    // Check: the outcome is shown in the panel, not only in the log.
    panel.checkCurrent(false);
    QTRY_VERIFY_WITH_TIMEOUT(panel.resultText().contains("No errors were found"), 10000);
    QVERIFY2(panel.resultText().startsWith("Check vm.qcow2: "), qPrintable(panel.resultText()));
    // Convert: the outcome shows, and the new image joins the list.
    const QString copy = path("copy.raw");
    panel.convertCurrent(copy, "raw");
    QTRY_VERIFY_WITH_TIMEOUT(panel.resultText().startsWith("Converted "), 10000);
    QTRY_VERIFY(panel.model()->findFile(copy) >= 0);
    QCOMPARE(panel.currentFile(), QFileInfo(copy).absoluteFilePath());
    // A failed convert says why in the panel too.
    panel.selectFile(file);
    panel.convertCurrent(copy, "raw");
    QTRY_VERIFY_WITH_TIMEOUT(panel.resultText().contains("file exists"), 10000);
    takeErrorBoxes(panel);
}

void WalkthroughTest::createRelativeNameGoesToVmFolder() {
    Context ctx;
    const QString vmDisk = path("vm.qcow2");
    test::makeQcow2WithBitmap(vmDisk.toStdString(), 1 << 20, "b", {});
    ImagesPanel panel(ctx.app);
    panel.setImages({vmDisk});
    QPushButton* create = nullptr;
    for (auto* b : panel.findChildren<QPushButton*>())
        if (b->text() == QStringLiteral("Create…"))
            create = b;
    QVERIFY(create);
    create->click();
    auto* dialog = panel.findChild<CreateImageDialog*>();
    QVERIFY(dialog);
    dialog->fileEdit()->setText("relative.qcow2");
    dialog->sizeEdit()->setText("1M");
    dialog->accept();
    const QString expected = path("relative.qcow2");
    QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(expected), 10000);
    QVERIFY(!QFile::exists(QDir::current().filePath("relative.qcow2")));
    QTRY_VERIFY(panel.model()->findFile(expected) >= 0);
    QVERIFY2(panel.resultText().startsWith("Created "), qPrintable(panel.resultText()));
}

void WalkthroughTest::resizeRefusedOnlyForImagesInUse() {
    Context ctx;
    const QString vmDisk = path("vm.qcow2");
    const QString other = path("other.qcow2");
    test::makeQcow2WithBitmap(vmDisk.toStdString(), 1 << 20, "b", {});
    test::makeQcow2WithBitmap(other.toStdString(), 1 << 20, "b", {});
    ImagesPanel panel(ctx.app);
    panel.setImages({vmDisk});
    // The VM runs: its disk is open in the table and in use by it.
    auto node = ctx.nodes.open(vmDisk.toStdString(), "", false, "disk0");
    ctx.nodes.setUser("disk0", "vm", true);
    panel.setVmRunning(true);
    panel.addImage(other);
    QCOMPARE(panel.currentFile(), other);
    QVERIFY(panel.resizeCurrent(2 << 20)); // no VM uses it
    QVERIFY2(panel.resultText().contains("Resized"), qPrintable(panel.resultText()));
    panel.selectFile(vmDisk);
    QVERIFY(!panel.resizeCurrent(2 << 20)); // the running VM's disk
    QVERIFY(panel.resultText().contains("refused while the VM is running"));
    QCOMPARE(node->image->size(), uint64_t(1 << 20));
    takeErrorBoxes(panel);
    ctx.nodes.setUser("disk0", "vm", false);
}

void WalkthroughTest::imageDetailsFollowTheImage() {
    Context ctx;
    const QString file = path("vm.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 8 << 20, "b", {});
    ImagesPanel panel(ctx.app);
    panel.setImages({file});
    QVERIFY(panel.detailsText().contains("Virtual size: 8 MiB"));
    // The VM starts: it opens the disk, grows it and adds a bitmap; the details follow
    // without selecting the row again.
    {
        auto node = ctx.nodes.open(file.toStdString(), "", false, "disk0");
        ctx.nodes.setUser("disk0", "vm", true);
        QTRY_VERIFY_WITH_TIMEOUT(panel.detailsText().contains("In use by: vm"), 5000);
        node->image->truncate(16 << 20);
        block::BitmapAction add;
        add.name = "second";
        node->image->bitmaps()->apply(std::span<const block::BitmapAction>(&add, 1));
        QTRY_VERIFY_WITH_TIMEOUT(panel.detailsText().contains("Virtual size: 16 MiB"), 5000);
        const int row = panel.model()->findFile(file);
        QTRY_COMPARE(panel.model()
                         ->data(panel.model()->index(row, ImageTableModel::BitmapsColumn))
                         .toString(),
                     QStringLiteral("2"));
        // It shuts down: no longer "in use", and the closed node is let go.
        ctx.nodes.setUser("disk0", "vm", false);
        QVERIFY(ctx.nodes.remove("disk0"));
        std::weak_ptr<vm::BlockNode> closed = node;
        node.reset();
        QTRY_VERIFY_WITH_TIMEOUT(!panel.detailsText().contains("In use by"), 5000);
        QTRY_VERIFY(closed.expired());
    }
    QVERIFY(panel.detailsText().contains("Virtual size: 16 MiB"));
}

void WalkthroughTest::handAddedImagesBelongToTheirVm() {
    Context ctx;
    for (const char* f : {"a.qcow2", "b.qcow2", "extra.qcow2"})
        test::makeQcow2WithBitmap(path(f).toStdString(), 1 << 20, "b", {});
    ImagesPanel panel(ctx.app);
    panel.setVm("A");
    panel.setImages({path("a.qcow2")});
    panel.addImage(path("extra.qcow2"));
    QCOMPARE(panel.model()->rowCount(), 2);
    panel.setVm("B");
    panel.setImages({path("b.qcow2")});
    QCOMPARE(panel.model()->rowCount(), 1);
    QVERIFY(panel.model()->findFile(path("extra.qcow2")) < 0);
    panel.setVm("A");
    panel.setImages({path("a.qcow2")});
    QCOMPARE(panel.model()->rowCount(), 2);
    QVERIFY(panel.model()->findFile(path("extra.qcow2")) >= 0);
    QVERIFY(panel.removeImage(path("extra.qcow2")));
    QCOMPARE(panel.model()->rowCount(), 1);
}

void WalkthroughTest::detailsApplyOnlyWhenChanged() {
    DetailsPage page;
    VmDefinition def;
    def.name = "demo";
    def.memoryMiB = 256;
    def.disks = {VmDisk{path("vm.qcow2"), "qcow2", false}};
    page.setDefinition(def);
    QPushButton* apply = nullptr;
    QPushButton* revert = nullptr;
    for (auto* b : page.findChildren<QPushButton*>()) {
        if (b->text() == "Apply")
            apply = b;
        if (b->text() == "Revert")
            revert = b;
    }
    QVERIFY(apply && revert);
    QVERIFY(!apply->isEnabled());
    QVERIFY(!revert->isEnabled());
    auto* memory = page.findChild<QSpinBox*>();
    QVERIFY(memory);
    memory->setValue(512);
    QVERIFY(page.modified());
    QVERIFY(apply->isEnabled());
    QVERIFY(revert->isEnabled());
    revert->click();
    QCOMPARE(memory->value(), 256);
    QVERIFY(!apply->isEnabled());
    // While the VM runs nothing is editable, and the buttons say why.
    memory->setValue(512);
    page.setEditable(false);
    QVERIFY(!apply->isEnabled());
    QVERIFY(!memory->toolTip().isEmpty());
    page.setEditable(true);
    QVERIFY(apply->isEnabled());
    // The outcome of Apply shows on the page; another VM clears it.
    page.showResult("Saved", false);
    QCOMPARE(page.resultText(), QStringLiteral("Saved"));
    page.setDefinition(def);
    QCOMPARE(page.resultText(), QStringLiteral("Saved"));
    def.name = "other";
    page.setDefinition(def);
    QVERIFY(page.resultText().isEmpty());
}

void WalkthroughTest::consoleSaysWhenNotLive() {
    ConsoleWidget console;
    console.resize(400, 300);
    auto lightPixels = [&console] {
        const QImage shot = console.grab().toImage();
        int light = 0;
        for (int y = 0; y < shot.height(); ++y)
            for (int x = 0; x < shot.width(); ++x)
                light += qGray(shot.pixel(x, y)) > 128;
        return light;
    };
    QCOMPARE(lightPixels(), 0); // nothing shown yet: black
    console.setStateBanner("Paused");
    QCOMPARE(console.stateBanner(), QStringLiteral("Paused"));
    QVERIFY(lightPixels() > 20); // the word is drawn over the picture
    console.setStateBanner({});
    QCOMPARE(lightPixels(), 0);
}

void WalkthroughTest::zoomButtonsAndZoomKept() {
    Context ctx;
    const QString file = path("disk.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), uint64_t(1) << 30, "fine", {{0, 65536}});
    BitmapsPanel panel(ctx.app);
    panel.setImages({file});
    QVERIFY(panel.addBitmap("other", 65536));
    panel.selectBitmap("fine");
    QPushButton* zoomIn = nullptr;
    QPushButton* zoomOut = nullptr;
    for (auto* b : panel.findChildren<QPushButton*>()) {
        if (b->text() == "Zoom in")
            zoomIn = b;
        if (b->text() == "Zoom out")
            zoomOut = b;
    }
    QVERIFY(zoomIn && zoomOut);
    BitmapMapWidget* map = panel.mapWidget();
    QCOMPARE(map->zoomLevel(), 0);
    QVERIFY(!zoomOut->isEnabled()); // fully out already
    QVERIFY(zoomIn->isEnabled());
    zoomIn->click();
    QCOMPARE(map->zoomLevel(), 1);
    QVERIFY(zoomOut->isEnabled());
    // Another bitmap of the same disk keeps the zoom, and so does a refresh.
    panel.selectBitmap("other");
    QCOMPARE(panel.selectedBitmap(), QStringLiteral("other"));
    QCOMPARE(map->zoomLevel(), 1);
    panel.refresh();
    QCOMPARE(map->zoomLevel(), 1);
    // At the finest zoom, Zoom in is disabled.
    while (map->canZoomIn())
        zoomIn->click();
    QVERIFY(!zoomIn->isEnabled());
    QVERIFY(zoomOut->isEnabled());
}

void WalkthroughTest::addBitmapIsOneFormThatRefusesBadNames() {
    Context ctx;
    const QString file = path("disk.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 4 << 20, "daily", {});
    BitmapsPanel panel(ctx.app);
    panel.setImages({file});
    BitmapNameDialog* form = panel.openBitmapForm(false);
    QVERIFY(form);
    // Name and granularity in one form; the sizes in the words the table uses.
    QCOMPARE(form->granularityBox()->itemText(1), QStringLiteral("4 KiB"));
    QVERIFY(form->granularityBox()->findText("64 KiB") >= 0);
    // An empty name cannot be created (nothing silently ignored), nor a taken one.
    QVERIFY(!form->createButton()->isEnabled());
    form->nameEdit()->setText("daily");
    QVERIFY(!form->createButton()->isEnabled());
    // E2KVM_SCREENSHOT_DIR=dir saves the form (and the exports tab below) for a look by eye.
    if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty()) {
        form->show();
        QVERIFY(QTest::qWaitForWindowExposed(form));
        QVERIFY(form->grab().save(dir + QStringLiteral("/bitmap-form.png")));
    }
    QVERIFY2(form->problem().contains("already"), qPrintable(form->problem()));
    form->nameEdit()->setText("weekly");
    QVERIFY(form->createButton()->isEnabled());
    form->granularityBox()->setCurrentIndex(form->granularityBox()->findText("256 KiB"));
    form->createButton()->click();
    QTRY_COMPARE(panel.model()->findName("weekly") >= 0, true);
    const auto& listed = panel.model()->bitmaps();
    QCOMPARE(listed[size_t(panel.model()->findName("weekly"))].granularity, uint64_t(256 * 1024));
    // New checkpoint: the same form, with a suggested name.
    BitmapNameDialog* checkpoint = panel.openBitmapForm(true);
    QVERIFY(checkpoint->name().startsWith("ckpt-"));
    QVERIFY(checkpoint->createButton()->isEnabled());
    checkpoint->reject();
}

void WalkthroughTest::exportNameFieldAndServerStopsWithLastExport() {
    Context ctx;
    const QString file = path("demo.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 4 << 20, "b", {});
    ExportsPanel panel(ctx.app);
    panel.setImages({file});
    panel.setCurrentImage(file);
    auto* name = panel.findChild<QLineEdit*>("exportName");
    QVERIFY(name);
    QVERIFY(name->placeholderText().contains("demo.qcow2"));
    // The first export takes the file's name; the second is named in the field.
    const QString first = panel.exportImage(panel.currentChoice());
    QCOMPARE(first, QStringLiteral("demo.qcow2"));
    QVERIFY(ctx.exports.running());
    name->setText("second");
    const QString second = panel.exportImage(panel.currentChoice());
    QCOMPARE(second, QStringLiteral("second"));
    QVERIFY(name->text().isEmpty());
    QVERIFY(panel.uriFor(second).endsWith("/second"));
    // A taken name is refused, saying why.
    name->setText("second");
    QVERIFY(panel.exportImage(panel.currentChoice()).isEmpty());
    const QStringList errors = takeErrorBoxes(panel);
    QCOMPARE(errors.size(), 1);
    QVERIFY2(errors[0].contains("exists already"), qPrintable(errors[0]));
    if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty()) {
        panel.resize(1000, 700);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QVERIFY(panel.grab().save(dir + QStringLiteral("/exports-two.png")));
    }
    // Clients see the file's name as the description, not the host's path.
    for (const vm::NbdExportInfo& info : ctx.exports.list())
        QCOMPARE(QString::fromStdString(info.description), QStringLiteral("demo.qcow2"));
    // The columns keep their widths when the last export stops.
    auto* table = panel.findChild<QTableWidget*>();
    QVERIFY(table);
    // The server stops listening when the last export stops.
    QVERIFY(panel.stopExport(first));
    const int uriWidth = table->columnWidth(2);
    QVERIFY(uriWidth > 100);
    QVERIFY(ctx.exports.running());
    QVERIFY(panel.stopExport(second));
    QVERIFY(!ctx.exports.running());
    QCOMPARE(table->columnWidth(2), uriWidth);
    if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty())
        QVERIFY(panel.grab().save(dir + QStringLiteral("/exports-none.png")));
}

QTEST_MAIN(WalkthroughTest)
#include "tst_walkthrough.moc"
