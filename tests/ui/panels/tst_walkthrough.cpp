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
#include "ui/panels/ConvertImageDialog.h"
#include "ui/panels/CreateImageDialog.h"
#include "ui/panels/ExportsPanel.h"
#include "ui/panels/ImageTableModel.h"
#include "ui/panels/ImagesPanel.h"
#include "ui/panels/TableColumns.h"

#include <QComboBox>
#include <QDir>
#include <QHeaderView>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QTableView>
#include <QTableWidget>
#include <QTest>
#include <QTimer>

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
    void greyedDetailsFieldsSayWhy();
    void greyedCreateFieldsSayWhy();
    void tablesShowWholeNamesOnOneLine();
    void removingAnImageAsksFirst();
    void convertIsOneForm();
    void valuesThatGrowWidenTheirColumn();
    void detailsSaySizesAsTheTablesDo();
    void tablesWithRowsCloseCleanly();

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
    QVERIFY(!zoomOut->isEnabled()); // fully out already, and it says so
    QVERIFY2(zoomOut->toolTip().contains("whole disk"), qPrintable(zoomOut->toolTip()));
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
    QVERIFY2(zoomIn->toolTip().contains("As fine as"), qPrintable(zoomIn->toolTip()));
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
    panel.resize(1000, 700);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty())
        QVERIFY(panel.grab().save(dir + QStringLiteral("/exports-two.png")));
    // Clients see the file's name as the description, not the host's path.
    for (const vm::NbdExportInfo& info : ctx.exports.list())
        QCOMPARE(QString::fromStdString(info.description), QStringLiteral("demo.qcow2"));
    // The columns keep their widths when the last export stops, and the last one stretches.
    auto* table = panel.findChild<QTableWidget*>();
    QVERIFY(table);
    QVERIFY(table->horizontalHeader()->stretchLastSection());
    QVERIFY(!table->wordWrap());
    // The server stops listening when the last export stops.
    QVERIFY(panel.stopExport(first));
    QCOMPARE(table->horizontalHeader()->length(), table->viewport()->width());
    const int uriWidth = table->columnWidth(2);
    QVERIFY(uriWidth > 100);
    QVERIFY(ctx.exports.running());
    QList<int> widths;
    for (int c = 0; c < table->columnCount(); ++c)
        widths << table->columnWidth(c);
    QVERIFY(panel.stopExport(second));
    QVERIFY(!ctx.exports.running());
    QCOMPARE(table->rowCount(), 0);
    QCOMPARE(table->columnWidth(2), uriWidth);
    // The last column still reaches the right edge (the header is not cut short).
    QCOMPARE(table->horizontalHeader()->length(), table->viewport()->width());
    for (int c = 0; c < table->columnCount(); ++c) {
        QCOMPARE(table->columnWidth(c), widths[c]);
        const QString header = table->horizontalHeaderItem(c)->text();
        QVERIFY2(table->columnWidth(c) >= table->fontMetrics().horizontalAdvance(header),
                 qPrintable(header));
    }
    if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty())
        QVERIFY(panel.grab().save(dir + QStringLiteral("/exports-none.png")));
}

void WalkthroughTest::greyedDetailsFieldsSayWhy() {
    DetailsPage page;
    VmDefinition def;
    def.name = "demo";
    def.memoryMiB = 256;
    def.boot = BootKind::Demo;
    def.disks = {VmDisk{path("vm.qcow2"), "qcow2", false}};
    page.setDefinition(def);
    // Every greyed field (not the parts inside a spin box or combo box) has a tooltip saying why.
    auto greyedWithoutReason = [&page] {
        QStringList silent;
        int greyed = 0;
        for (QWidget* w : page.findChildren<QWidget*>()) {
            const bool field = qobject_cast<QLineEdit*>(w) || qobject_cast<QAbstractSpinBox*>(w) ||
                               qobject_cast<QComboBox*>(w) || qobject_cast<QAbstractButton*>(w) ||
                               qobject_cast<QTableView*>(w);
            QWidget* parent = w->parentWidget();
            const bool part =
                qobject_cast<QAbstractSpinBox*>(parent) || qobject_cast<QComboBox*>(parent);
            if (!field || part || w->isEnabled())
                continue;
            ++greyed;
            if (w->toolTip().isEmpty())
                silent << QStringLiteral("%1 '%2'").arg(QLatin1String(w->metaObject()->className()),
                                                        w->property("text").toString());
        }
        return std::pair{greyed, silent};
    };
    // Editable, the demo guest chosen: the boot file field is greyed (the demo needs none), as
    // are Apply and Revert (nothing changed). No note over the form.
    QVERIFY(page.lockedText().isEmpty());
    auto [greyedEditable, silentEditable] = greyedWithoutReason();
    QVERIFY(greyedEditable >= 4); // file field, Browse, Apply, Revert
    QVERIFY2(silentEditable.isEmpty(), qPrintable(silentEditable.join(", ")));
    // The VM runs: every field is greyed and says so.
    page.setEditable(false);
    auto [greyedRunning, silentRunning] = greyedWithoutReason();
    QVERIFY(greyedRunning >= 12);
    QVERIFY2(silentRunning.isEmpty(), qPrintable(silentRunning.join(", ")));
    auto* memory = page.findChild<QSpinBox*>();
    QVERIFY(memory->toolTip().contains("Shut the VM down"));
    // ... and a note over the form says it without hovering.
    QVERIFY2(page.lockedText().contains("Shut the VM down"), qPrintable(page.lockedText()));
    page.setEditable(true);
    QVERIFY(page.lockedText().isEmpty());
}

void WalkthroughTest::greyedCreateFieldsSayWhy() {
    CreateImageDialog dialog;
    QVERIFY(dialog.clusterBox()->isEnabled());
    QVERIFY(dialog.clusterBox()->toolTip().isEmpty());
    dialog.formatBox()->setCurrentText("raw");
    QVERIFY(!dialog.clusterBox()->isEnabled());
    QVERIFY(!dialog.backingEdit()->isEnabled());
    QVERIFY(dialog.clusterBox()->toolTip().contains("raw"));
    QVERIFY(dialog.backingEdit()->toolTip().contains("raw"));
    // The backing file's Browse… button is greyed with its field.
    for (auto* b : dialog.findChildren<QPushButton*>())
        if (b->parentWidget() == dialog.backingEdit()->parentWidget())
            QVERIFY(!b->isEnabled());
    dialog.formatBox()->setCurrentText("qcow2");
    QVERIFY(dialog.backingEdit()->isEnabled());
    QVERIFY(dialog.backingEdit()->toolTip().isEmpty());
}

void WalkthroughTest::tablesShowWholeNamesOnOneLine() {
    Context ctx;
    const QString file = path("a-rather-long-image-file-name-from-the-walkthrough.qcow2");
    const std::string bitmap = "checkpoint-2024-01-31-before-the-big-upgrade";
    test::makeQcow2WithBitmap(file.toStdString(), 4 << 20, bitmap, {{0, 65536}});

    // Images: the file name on one line and whole, its path as the tooltip.
    ImagesPanel images(ctx.app);
    images.resize(1000, 600);
    images.setImages({file});
    auto* imageTable = images.findChild<QTableView*>();
    QVERIFY(imageTable);
    QVERIFY(!imageTable->wordWrap());
    QCOMPARE(imageTable->textElideMode(), Qt::ElideMiddle);
    const QModelIndex fileCell = images.model()->index(0, ImageTableModel::FileColumn);
    const QString shownName = fileCell.data().toString();
    QVERIFY(shownName.contains(QFileInfo(file).fileName()));
    QVERIFY2(imageTable->columnWidth(ImageTableModel::FileColumn) >=
                 imageTable->fontMetrics().horizontalAdvance(shownName),
             qPrintable(QString::number(imageTable->columnWidth(ImageTableModel::FileColumn))));
    QCOMPARE(fileCell.data(Qt::ToolTipRole).toString(), file);
    // Every other non-empty cell gives its whole text as a tooltip too.
    for (int c = 1; c < ImageTableModel::ColumnCount; ++c) {
        const QModelIndex cell = images.model()->index(0, c);
        QCOMPARE(cell.data(Qt::ToolTipRole).toString(), cell.data().toString());
    }

    // Bitmaps: the name column is as wide as the longest name.
    BitmapsPanel bitmaps(ctx.app);
    bitmaps.resize(1000, 600);
    bitmaps.setImages({file});
    auto* bitmapTable = bitmaps.findChild<QTableView*>();
    QVERIFY(bitmapTable);
    QCOMPARE(bitmaps.model()->rowCount(), 1);
    QVERIFY(!bitmapTable->wordWrap());
    const int nameWidth =
        bitmapTable->fontMetrics().horizontalAdvance(QString::fromStdString(bitmap));
    QVERIFY2(bitmapTable->columnWidth(BitmapTableModel::NameColumn) >= nameWidth,
             qPrintable(QStringLiteral("%1 < %2")
                            .arg(bitmapTable->columnWidth(BitmapTableModel::NameColumn))
                            .arg(nameWidth)));
    QCOMPARE(bitmaps.model()->index(0, BitmapTableModel::NameColumn).data(Qt::ToolTipRole),
             QVariant(QString::fromStdString(bitmap)));
    // A second, longer name widens the column.
    const QString longer = QString::fromStdString(bitmap) + "-and-then-some-more";
    QVERIFY(bitmaps.addBitmap(longer));
    QVERIFY(bitmapTable->columnWidth(BitmapTableModel::NameColumn) >=
            bitmapTable->fontMetrics().horizontalAdvance(longer));
    QVERIFY(takeErrorBoxes(bitmaps).isEmpty());
}

void WalkthroughTest::removingAnImageAsksFirst() {
    Context ctx;
    const QString vmDisk = path("vm.qcow2");
    const QString extra = path("extra.qcow2");
    test::makeQcow2WithBitmap(vmDisk.toStdString(), 1 << 20, "b", {});
    test::makeQcow2WithBitmap(extra.toStdString(), 1 << 20, "b", {});
    ImagesPanel panel(ctx.app);
    panel.setImages({vmDisk});
    panel.addImage(extra);
    QCOMPARE(panel.currentFile(), extra);
    QPushButton* remove = nullptr;
    for (auto* b : panel.findChildren<QPushButton*>())
        if (b->text() == "Remove")
            remove = b;
    QVERIFY(remove && remove->isEnabled());
    // Clicks Remove and answers its question (Cancel, or confirm); returns what it asked.
    auto answer = [&panel, remove](bool confirm) {
        QString asked;
        QTimer::singleShot(0, &panel, [&panel, &asked, confirm] {
            auto* box = panel.findChild<QMessageBox*>("removeImageConfirm");
            if (!box)
                return;
            asked = box->text();
            QAbstractButton* button = box->button(QMessageBox::Cancel);
            if (confirm)
                for (QAbstractButton* b : box->buttons())
                    if (box->buttonRole(b) == QMessageBox::AcceptRole)
                        button = b;
            button->click();
        });
        remove->click();
        return asked;
    };
    QString asked = answer(false);
    QVERIFY2(asked.contains("extra.qcow2"), qPrintable(asked));
    QVERIFY(panel.model()->findFile(extra) >= 0); // cancelled: still listed
    asked = answer(true);
    QVERIFY(!asked.isEmpty());
    QVERIFY(panel.model()->findFile(extra) < 0);
    QVERIFY(QFile::exists(extra)); // the file stays
}

void WalkthroughTest::convertIsOneForm() {
    Context ctx;
    const QString file = path("vm.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 1 << 20, "b", {{0, 65536}});
    test::makeQcow2WithBitmap(path("taken.raw").toStdString(), 1 << 20, "b", {});
    ImagesPanel panel(ctx.app);
    panel.setImages({file});
    QPushButton* convert = nullptr;
    for (auto* b : panel.findChildren<QPushButton*>())
        if (b->text() == QStringLiteral("Convert…"))
            convert = b;
    QVERIFY(convert && convert->isEnabled());
    convert->click();
    // Format and target in one form; the suggested name follows the format.
    auto* form = panel.findChild<ConvertImageDialog*>();
    QVERIFY(form);
    QCOMPARE(form->target(), path("vm-copy.qcow2"));
    form->formatBox()->setCurrentText("raw");
    QCOMPARE(form->target(), path("vm-copy.raw"));
    QVERIFY(form->convertButton()->isEnabled());
    // A taken name or none is refused before the form closes, saying why.
    form->targetEdit()->setText("taken.raw");
    QVERIFY(!form->convertButton()->isEnabled());
    QVERIFY2(form->problem().contains("exists already"), qPrintable(form->problem()));
    form->targetEdit()->setText("");
    QVERIFY(!form->convertButton()->isEnabled());
    // A name without a folder is next to the source; the format no longer renames it.
    form->targetEdit()->setText("plain.raw");
    form->formatBox()->setCurrentText("qcow2");
    form->formatBox()->setCurrentText("raw");
    QCOMPARE(form->target(), path("plain.raw"));
    if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty()) {
        form->show();
        QVERIFY(QTest::qWaitForWindowExposed(form));
        QVERIFY(form->grab().save(dir + QStringLiteral("/convert-form.png")));
    }
    form->convertButton()->click();
    QTRY_VERIFY_WITH_TIMEOUT(panel.resultText().startsWith("Converted "), 10000);
    QVERIFY(QFile::exists(path("plain.raw")));
    QCOMPARE(panel.currentFile(), path("plain.raw"));
    QCOMPARE(QFileInfo(path("plain.raw")).size(), qint64(1 << 20));
}

void WalkthroughTest::valuesThatGrowWidenTheirColumn() {
    Context ctx;
    const QString file = path("vm.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 8 << 20, "b", {});
    // The VM runs: its disk is a node, whose bitmap follows the writes.
    auto node = ctx.nodes.open(file.toStdString(), "", false, "disk0");
    BitmapsPanel panel(ctx.app);
    panel.resize(1000, 600);
    panel.setImages({file});
    QCOMPARE(panel.model()->rowCount(), 1);
    auto* table = panel.findChild<QTableView*>();
    QVERIFY(table);
    const QModelIndex dirty = panel.model()->index(0, BitmapTableModel::DirtyColumn);
    QCOMPARE(dirty.data().toString(), QStringLiteral("0 B"));
    const int before = table->columnWidth(BitmapTableModel::DirtyColumn);
    // The guest writes: "0 B" becomes "1.06 MiB", wider than the column was.
    std::vector<uint8_t> data(17 * 65536, 0x5a);
    node->image->write(0, data);
    panel.refresh();
    const QString grown = dirty.data().toString();
    QCOMPARE(grown, QStringLiteral("1.06 MiB"));
    const int needed = table->fontMetrics().horizontalAdvance(grown);
    QVERIFY2(before < needed, qPrintable(QStringLiteral("%1 >= %2").arg(before).arg(needed)));
    QVERIFY2(table->columnWidth(BitmapTableModel::DirtyColumn) >= needed,
             qPrintable(QString::number(table->columnWidth(BitmapTableModel::DirtyColumn))));
    QVERIFY(takeErrorBoxes(panel).isEmpty());
}

void WalkthroughTest::detailsSaySizesAsTheTablesDo() {
    Context ctx;
    const QString file = path("vm.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 8 << 20, "b", {});
    ImagesPanel panel(ctx.app);
    panel.setImages({file});
    const QString details = panel.detailsText();
    // "64 KiB" as in the tables and the bitmap form, not "65536" or "64K".
    QVERIFY2(details.contains("Cluster size: 64 KiB (65536 bytes)"), qPrintable(details));
    QVERIFY2(details.contains("Bitmap b: granularity 64 KiB"), qPrintable(details));
}

void WalkthroughTest::tablesWithRowsCloseCleanly() {
    // A QTableWidget resets its model while it is being destroyed: the column sizing must not
    // reach into the half-destroyed view (the application crashed on quit with an export).
    {
        auto* table = new QTableWidget(2, 3);
        for (int r = 0; r < 2; ++r)
            for (int c = 0; c < 3; ++c)
                table->setItem(r, c,
                               new QTableWidgetItem(QStringLiteral("cell %1.%2").arg(r).arg(c)));
        fitColumnsToContents(table);
        QVERIFY(table->columnWidth(0) >= table->fontMetrics().horizontalAdvance("cell 0.0"));
        delete table;
    }
    // The same with the Exports tab holding an export when the window closes.
    Context ctx;
    const QString file = path("demo.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 4 << 20, "b", {});
    {
        ExportsPanel panel(ctx.app);
        panel.setImages({file});
        panel.setCurrentImage(file);
        QCOMPARE(panel.exportImage(panel.currentChoice()), QStringLiteral("demo.qcow2"));
        QCOMPARE(panel.findChild<QTableWidget*>()->rowCount(), 1);
    }
    ctx.exports.stop();
}

QTEST_MAIN(WalkthroughTest)
#include "tst_walkthrough.moc"
