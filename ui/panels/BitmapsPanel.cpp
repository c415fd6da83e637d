#include "ui/panels/BitmapsPanel.h"

#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "ui/AppContext.h"
#include "ui/panels/BitmapMapWidget.h"
#include "ui/panels/BitmapNameDialog.h"
#include "ui/panels/BitmapOperations.h"
#include "ui/panels/BitmapTableModel.h"
#include "ui/panels/PanelFeedback.h"
#include "ui/panels/TableColumns.h"

#include <QComboBox>
#include <QDateTime>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include <exception>
#include <stdexcept>

namespace e2kvm::ui {

using block::BitmapActionKind;

BitmapsPanel::BitmapsPanel(AppContext& context, QWidget* parent)
    : QWidget(parent), context_(context) {
    images_ = new QComboBox(this);
    images_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    model_ = new BitmapTableModel(this);
    table_ = new QTableView(this);
    table_->setModel(model_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    fitColumnsToContents(table_); // bitmap names are as wide as they are
    guidance_ = new QLabel(this);
    guidance_->setWordWrap(true);
    guidance_->setStyleSheet(QStringLiteral("color: #c02020"));
    guidance_->hide();

    add_ = new QPushButton(tr("Add…"), this);
    remove_ = new QPushButton(tr("Remove"), this);
    clear_ = new QPushButton(tr("Clear"), this);
    enable_ = new QPushButton(tr("Enable"), this);
    disable_ = new QPushButton(tr("Disable"), this);
    merge_ = new QPushButton(tr("Merge…"), this);
    checkpoint_ = new QPushButton(tr("New checkpoint…"), this);
    checkpoint_->setToolTip(tr("Adds a new enabled bitmap and disables the enabled ones in one "
                               "step, so each older bitmap holds exactly the changes between "
                               "its checkpoint and the next"));

    map_ = new BitmapMapWidget(this);
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(map_);
    scroll->setWidgetResizable(true);
    auto* zoomIn = new QPushButton(tr("Zoom in"), this);
    auto* zoomOut = new QPushButton(tr("Zoom out"), this);
    auto* zoomLabel = new QLabel(tr("Map (wheel zooms):"), this);

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Image:"), this));
    top->addWidget(images_, 1);
    auto* buttons = new QHBoxLayout;
    for (QPushButton* b : {add_, remove_, clear_, enable_, disable_, merge_, checkpoint_})
        buttons->addWidget(b);
    buttons->addStretch(1);
    auto* zoomRow = new QHBoxLayout;
    zoomRow->addWidget(zoomLabel);
    zoomRow->addStretch(1);
    zoomRow->addWidget(zoomOut);
    zoomRow->addWidget(zoomIn);

    auto* upper = new QWidget(this);
    auto* upperLayout = new QVBoxLayout(upper);
    upperLayout->setContentsMargins(0, 0, 0, 0);
    upperLayout->addWidget(table_, 1);
    upperLayout->addWidget(guidance_);
    auto* lower = new QWidget(this);
    auto* lowerLayout = new QVBoxLayout(lower);
    lowerLayout->setContentsMargins(0, 0, 0, 0);
    lowerLayout->addLayout(zoomRow);
    lowerLayout->addWidget(scroll, 1);
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(upper);
    split->addWidget(lower);
    split->setStretchFactor(0, 1); // the map gets the larger share
    split->setStretchFactor(1, 2);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addLayout(buttons);
    layout->addWidget(split, 1);

    connect(images_, &QComboBox::currentIndexChanged, this, [this] {
        QString file = images_->currentData().toString();
        if (file != nodeFile_)
            setCurrentImage(file);
    });
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            &BitmapsPanel::updateSelection);
    connect(model_, &QAbstractItemModel::modelReset, this, &BitmapsPanel::updateSelection);
    connect(add_, &QPushButton::clicked, this, &BitmapsPanel::chooseAdd);
    connect(remove_, &QPushButton::clicked, this,
            [this] { changeBitmap(BitmapActionKind::Remove, selectedBitmap()); });
    connect(clear_, &QPushButton::clicked, this,
            [this] { changeBitmap(BitmapActionKind::Clear, selectedBitmap()); });
    connect(enable_, &QPushButton::clicked, this,
            [this] { changeBitmap(BitmapActionKind::Enable, selectedBitmap()); });
    connect(disable_, &QPushButton::clicked, this,
            [this] { changeBitmap(BitmapActionKind::Disable, selectedBitmap()); });
    connect(merge_, &QPushButton::clicked, this, &BitmapsPanel::chooseMerge);
    connect(checkpoint_, &QPushButton::clicked, this, &BitmapsPanel::chooseCheckpoint);
    connect(zoomIn, &QPushButton::clicked, map_, &BitmapMapWidget::zoomIn);
    connect(zoomOut, &QPushButton::clicked, map_, &BitmapMapWidget::zoomOut);
    // The buttons are enabled only while they can do something; greyed, they say why.
    auto updateZoom = [this, zoomIn, zoomOut] {
        const bool shown = map_->cells().cellCount() > 0;
        zoomIn->setEnabled(map_->canZoomIn());
        zoomOut->setEnabled(map_->zoomLevel() > 0);
        zoomIn->setToolTip(zoomIn->isEnabled() ? tr("Show fewer bytes per cell")
                           : shown ? tr("As fine as the map goes: a cell is one granule (or "
                                        "the map has as many cells as it can draw)")
                                   : tr("Select a bitmap to see its map"));
        zoomOut->setToolTip(zoomOut->isEnabled() ? tr("Show more bytes per cell")
                            : shown              ? tr("The whole disk is shown already")
                                                 : tr("Select a bitmap to see its map"));
    };
    connect(map_, &BitmapMapWidget::zoomChanged, this, updateZoom);
    updateZoom();

    refresh_.setInterval(1000);
    connect(&refresh_, &QTimer::timeout, this, &BitmapsPanel::refresh);
    refresh_.start();
    updateSelection();
}

void BitmapsPanel::setImages(const QStringList& files) {
    vmImages_ = files;
    refreshImageList();
    // Another VM selected: show its first disk (the current image stays while it is one of
    // the VM's disks).
    if (!files.isEmpty() && (nodeFile_.isEmpty() || !files.contains(nodeFile_)))
        setCurrentImage(files.front());
}

void BitmapsPanel::setVmRunning(bool running) {
    vmRunning_ = running;
}

void BitmapsPanel::refresh() {
    refreshImageList();
    refreshBitmaps();
}

void BitmapsPanel::refreshImageList() {
    QStringList files = vmImages_;
    if (context_.nodes)
        for (const auto& n : context_.nodes->list()) {
            QString f = QString::fromStdString(n->file);
            // An overlay (a point-in-time export's) has no bitmaps of its own and must not
            // be opened a second time.
            if (!files.contains(f) && !context_.nodes->overlaysOpenNode(*n))
                files << f;
        }
    QStringList shown;
    for (int i = 0; i < images_->count(); ++i)
        shown << images_->itemData(i).toString();
    if (shown == files)
        return;
    QSignalBlocker block(images_);
    images_->clear();
    for (const QString& f : files)
        images_->addItem(QFileInfo(f).fileName(), f);
    images_->setCurrentIndex(int(files.indexOf(nodeFile_)));
}

void BitmapsPanel::showNothingYet() {
    lastGeneration_ = ~uint64_t{0};
}

std::shared_ptr<block::BlockDriver> BitmapsPanel::shownImage(bool lookIfClosed) {
    if (nodeFile_.isEmpty() || !context_.nodes)
        return nullptr;
    const std::string file = nodeFile_.toStdString();
    // Open in the table (a running VM's disk, an image a change or QMP opened): that node is
    // the live one, whose bitmaps follow the writes.
    if (auto n = context_.nodes->findByFile(file)) {
        if (n != node_.lock() || inspected_)
            showNothingYet();
        node_ = n;
        inspected_.reset();
        return n->image;
    }
    // A shown node closed meanwhile (a repair runs) leaves nothing shown: only choosing the
    // image again looks at it again.
    node_.reset();
    if (inspected_ || !lookIfClosed)
        return inspected_;
    // Looking is read-only: not in the node table, and a read-only open changes nothing in
    // the file (a writable one marks its bitmaps in use and repairs a dirty qcow2). It shares
    // the image (qemu-img info -U): a VM can start on it while the look stays open.
    block::OpenOptions readOnly;
    readOnly.readOnly = true;
    readOnly.forceShare = true;
    inspected_ = block::openImage(file, readOnly);
    showNothingYet();
    return inspected_;
}

block::BitmapCatalog* BitmapsPanel::shownCatalog(std::shared_ptr<block::BlockDriver>& holder,
                                                 bool lookIfClosed) {
    holder = shownImage(lookIfClosed);
    return holder ? holder->bitmaps() : nullptr;
}

std::shared_ptr<vm::BlockNode> BitmapsPanel::nodeForChange() {
    if (nodeFile_.isEmpty())
        throw std::runtime_error("choose an image first");
    if (!context_.nodes)
        throw std::runtime_error("no block node table in this window");
    const std::string file = nodeFile_.toStdString();
    auto n = context_.nodes->findByFile(file);
    if (!n) {
        // The user asks for a change: now the image is opened for writing, in the node table
        // (so a VM started later, QMP and exports share it), named as the VM would name it.
        std::string name;
        if (qsizetype i = vmImages_.indexOf(nodeFile_); i >= 0) {
            std::string wanted = "disk" + std::to_string(i);
            if (!context_.nodes->find(wanted))
                name = wanted;
        }
        n = context_.nodes->open(file, "", false, name);
    }
    if (n != node_.lock() || inspected_)
        showNothingYet();
    node_ = n;
    inspected_.reset();
    return n;
}

block::BitmapCatalog& BitmapsPanel::catalogForChange(std::shared_ptr<vm::BlockNode>& holder) {
    holder = nodeForChange();
    block::BitmapCatalog* catalog = holder->image->bitmaps();
    if (!catalog)
        throw std::runtime_error("this image has no dirty bitmaps");
    return *catalog;
}

void BitmapsPanel::setCurrentImage(const QString& file) {
    nodeFile_ = file;
    node_.reset();
    inspected_.reset();
    showNothingYet();
    refreshImageList();
    {
        QSignalBlocker block(images_);
        images_->setCurrentIndex(images_->findData(file));
    }
    std::shared_ptr<block::BlockDriver> holder;
    if (!file.isEmpty() && context_.nodes) {
        try {
            if (!shownCatalog(holder, true) && holder)
                logLine(context_, QStringLiteral("warning"),
                        tr("%1: format %2 has no dirty bitmaps")
                            .arg(file, QString::fromStdString(holder->formatName())));
        } catch (const std::exception& e) {
            logLine(context_, QStringLiteral("warning"),
                    tr("%1: the image cannot be opened: %2")
                        .arg(file, QString::fromStdString(e.what())));
        }
    }
    refreshBitmaps();
    if (model_->rowCount() > 0)
        table_->selectRow(0);
    updateSelection();
}

QString BitmapsPanel::currentImage() const {
    return nodeFile_;
}

void BitmapsPanel::refreshBitmaps() {
    std::shared_ptr<block::BlockDriver> holder;
    block::BitmapCatalog* catalog = shownCatalog(holder);
    if (!catalog) {
        model_->setBitmaps({});
        guidance_->hide();
        map_->setBitmap(nullptr);
        return;
    }
    QString selected = selectedBitmap();
    model_->setBitmaps(catalog->list());
    if (catalog->generation() != lastGeneration_) {
        lastGeneration_ = catalog->generation();
        QStringList lines;
        for (const auto& b : model_->bitmaps())
            if (b.inconsistent)
                lines << QString::fromStdString(
                    block::BitmapCatalog::inconsistentMessage(nodeFile_.toStdString(), b.name));
        guidance_->setText(lines.join(QLatin1Char('\n')));
        guidance_->setVisible(!lines.isEmpty());
        int row = model_->findName(selected);
        if (row >= 0)
            table_->selectRow(row);
        updateSelection();
    }
}

void BitmapsPanel::selectBitmap(const QString& name) {
    int row = model_->findName(name);
    if (row >= 0)
        table_->selectRow(row);
    updateSelection();
}

QString BitmapsPanel::selectedBitmap() const {
    QModelIndex i = table_->selectionModel()->currentIndex();
    if (!i.isValid() || i.row() >= model_->rowCount())
        return {};
    return QString::fromStdString(model_->bitmaps()[size_t(i.row())].name);
}

QString BitmapsPanel::guidanceText() const {
    return guidance_->isHidden() ? QString() : guidance_->text();
}

void BitmapsPanel::updateSelection() {
    QString name = selectedBitmap();
    int row = model_->findName(name);
    const block::NamedBitmap* b = row >= 0 ? &model_->bitmaps()[size_t(row)] : nullptr;
    bool hasCatalog = !nodeFile_.isEmpty() && (node_.lock() != nullptr || inspected_);
    add_->setEnabled(hasCatalog);
    checkpoint_->setEnabled(hasCatalog);
    remove_->setEnabled(b);
    bool usable = b && !b->inconsistent;
    clear_->setEnabled(usable);
    enable_->setEnabled(usable && !b->enabled);
    disable_->setEnabled(usable && b->enabled);
    merge_->setEnabled(usable && model_->rowCount() > 1);
    if (usable && b->bitmap)
        map_->setBitmap(b->bitmap, name);
    else
        map_->setBitmap(nullptr);
}

void BitmapsPanel::logChange(const QString& what) {
    logLine(context_, QStringLiteral("info"),
            tr("%1: %2").arg(QFileInfo(nodeFile_).fileName(), what));
}

bool BitmapsPanel::addBitmap(const QString& name, uint64_t granularity) {
    std::shared_ptr<vm::BlockNode> holder;
    bool inMemory = false;
    try {
        block::BitmapCatalog& catalog = catalogForChange(holder);
        block::BitmapAction a;
        a.kind = BitmapActionKind::Add;
        a.name = name.toStdString();
        a.granularity = granularity;
        a.persistent = catalog.storesBitmaps();
        catalog.apply(std::span<const block::BitmapAction>(&a, 1));
        inMemory = !a.persistent;
    } catch (const std::exception& e) {
        reportError(context_, this, tr("Add bitmap"), QString::fromStdString(e.what()));
        return false;
    }
    logChange(inMemory ? tr("bitmap '%1' added, in memory only: this image format cannot "
                            "store bitmaps, so it ends when the image is closed")
                             .arg(name)
                       : tr("bitmap '%1' added").arg(name));
    refreshBitmaps();
    selectBitmap(name);
    return true;
}

bool BitmapsPanel::changeBitmap(BitmapActionKind kind, const QString& name) {
    if (name.isEmpty())
        return false;
    static const char* const verbs[] = {"added",   "removed",  "cleared",
                                        "enabled", "disabled", "merged"};
    std::shared_ptr<vm::BlockNode> holder;
    try {
        block::BitmapCatalog& catalog = catalogForChange(holder);
        applyBitmapAction(catalog, context_.exports, holder->name, kind, name.toStdString());
    } catch (const std::exception& e) {
        reportError(context_, this, tr("Bitmap '%1'").arg(name), QString::fromStdString(e.what()));
        return false;
    }
    logChange(tr("bitmap '%1' %2").arg(name, QLatin1String(verbs[int(kind)])));
    refreshBitmaps();
    return true;
}

bool BitmapsPanel::mergeBitmap(const QString& target, const QString& source) {
    std::shared_ptr<vm::BlockNode> holder;
    try {
        block::BitmapCatalog& catalog = catalogForChange(holder);
        applyBitmapAction(catalog, context_.exports, holder->name, BitmapActionKind::Merge,
                          target.toStdString(), source.toStdString());
    } catch (const std::exception& e) {
        reportError(context_, this, tr("Merge into '%1'").arg(target),
                    QString::fromStdString(e.what()));
        return false;
    }
    logChange(tr("bitmap '%1' merged into '%2'").arg(source, target));
    refreshBitmaps();
    return true;
}

bool BitmapsPanel::newCheckpoint(const QString& name, uint64_t granularity) {
    std::shared_ptr<vm::BlockNode> holder;
    std::vector<std::string> disabled;
    try {
        block::BitmapCatalog& catalog = catalogForChange(holder);
        auto batch = checkpointActions(catalog, name.toStdString(), granularity, &disabled);
        for (const std::string& d : disabled)
            refuseIfExported(context_.exports, holder->name, d);
        catalog.apply(batch);
    } catch (const std::exception& e) {
        reportError(context_, this, tr("New checkpoint"), QString::fromStdString(e.what()));
        return false;
    }
    QStringList off;
    for (const auto& d : disabled)
        off << QStringLiteral("'%1'").arg(QString::fromStdString(d));
    logChange(
        off.isEmpty()
            ? tr("checkpoint '%1' started").arg(name)
            : tr("checkpoint '%1' started; disabled %2").arg(name, off.join(QStringLiteral(", "))));
    refreshBitmaps();
    selectBitmap(name);
    return true;
}

QStringList BitmapsPanel::bitmapNames() const {
    QStringList names;
    for (const auto& b : model_->bitmaps())
        names << QString::fromStdString(b.name);
    return names;
}

BitmapNameDialog* BitmapsPanel::openBitmapForm(bool checkpoint) {
    auto* dialog =
        checkpoint
            ? new BitmapNameDialog(
                  tr("New checkpoint"),
                  tr("A new bitmap starts recording, and the enabled bitmaps are disabled in the "
                     "same step."),
                  QStringLiteral("ckpt-") +
                      QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-hhmmss")),
                  bitmapNames(), 0, this)
            : new BitmapNameDialog(tr("Add bitmap"),
                                   tr("A new bitmap records the writes from now on."), {},
                                   bitmapNames(), 0, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, [this, dialog, checkpoint] {
        if (checkpoint)
            newCheckpoint(dialog->name(), dialog->granularity());
        else
            addBitmap(dialog->name(), dialog->granularity());
    });
    dialog->open();
    return dialog;
}

void BitmapsPanel::chooseAdd() {
    openBitmapForm(false);
}

void BitmapsPanel::chooseMerge() {
    QString target = selectedBitmap();
    QStringList sources;
    for (const auto& b : model_->bitmaps())
        if (!b.inconsistent && QString::fromStdString(b.name) != target)
            sources << QString::fromStdString(b.name);
    if (target.isEmpty() || sources.isEmpty())
        return;
    bool ok = false;
    QString source = QInputDialog::getItem(
        this, tr("Merge"), tr("Merge the dirty bits of this bitmap into '%1':").arg(target),
        sources, 0, false, &ok);
    if (ok)
        mergeBitmap(target, source);
}

void BitmapsPanel::chooseCheckpoint() {
    openBitmapForm(true);
}

} // namespace e2kvm::ui
