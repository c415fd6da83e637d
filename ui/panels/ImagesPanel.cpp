#include "ui/panels/ImagesPanel.h"

#include "app/vmcore/BlockNodeTable.h"
#include "block/ImageOpen.h"
#include "ui/AppContext.h"
#include "ui/panels/ConvertImageDialog.h"
#include "ui/panels/CreateImageDialog.h"
#include "ui/panels/ImageDetails.h"
#include "ui/panels/ImageJobs.h"
#include "ui/panels/ImageTableModel.h"
#include "ui/panels/PanelFeedback.h"
#include "ui/panels/TableColumns.h"

#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include <exception>

namespace e2kvm::ui {

ImagesPanel::ImagesPanel(AppContext& context, QWidget* parent)
    : QWidget(parent), context_(context) {
    model_ = new ImageTableModel(context.nodes, this);
    table_ = new QTableView(this);
    table_->setModel(model_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    fitColumnsToContents(table_); // file names on one line, the path in the tooltip
    table_->setAcceptDrops(true);
    table_->setDropIndicatorShown(true);
    table_->setDragDropMode(QAbstractItemView::DropOnly);
    details_ = new QPlainTextEdit(this);
    details_->setReadOnly(true);
    details_->setPlaceholderText(tr("Select an image to see its details"));

    add_ = new QPushButton(tr("Add…"), this);
    remove_ = new QPushButton(tr("Remove"), this);
    remove_->setToolTip(tr("Remove a hand-added image from this list (the file stays)"));
    create_ = new QPushButton(tr("Create…"), this);
    resize_ = new QPushButton(tr("Resize…"), this);
    convert_ = new QPushButton(tr("Convert…"), this);
    check_ = new QPushButton(tr("Check"), this);
    repair_ = new QPushButton(tr("Repair"), this);
    auto* buttons = new QHBoxLayout;
    for (QPushButton* b : {add_, remove_, create_, resize_, convert_, check_, repair_})
        buttons->addWidget(b);
    buttons->addStretch(1);

    result_ = new QLabel(this);
    result_->setObjectName(QStringLiteral("imagesResult"));
    result_->setWordWrap(true);
    result_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    result_->hide();

    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(table_);
    split->addWidget(details_);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(buttons);
    layout->addWidget(result_);
    layout->addWidget(split, 1);
    setAcceptDrops(true);

    connect(add_, &QPushButton::clicked, this, &ImagesPanel::chooseAdd);
    connect(remove_, &QPushButton::clicked, this, &ImagesPanel::removeCurrent);
    connect(create_, &QPushButton::clicked, this, &ImagesPanel::chooseCreate);
    connect(resize_, &QPushButton::clicked, this, &ImagesPanel::chooseResize);
    connect(convert_, &QPushButton::clicked, this, &ImagesPanel::chooseConvert);
    connect(check_, &QPushButton::clicked, this, [this] { checkCurrent(false); });
    connect(repair_, &QPushButton::clicked, this, [this] { checkCurrent(true); });
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] {
        updateDetails();
        updateActions();
        emit currentFileChanged(currentFile());
    });
    connect(model_, &QAbstractItemModel::dataChanged, this, [this] {
        updateDetails();
        updateActions();
    });
    connect(model_, &QAbstractItemModel::modelReset, this, [this] {
        updateDetails();
        updateActions();
    });
    refresh_.setInterval(1000);
    connect(&refresh_, &QTimer::timeout, this, &ImagesPanel::refresh);
    refresh_.start();
    updateActions();
}

void ImagesPanel::refresh() {
    model_->refresh();
}

void ImagesPanel::setVm(const QString& name) {
    if (name == vmName_)
        return;
    // The hand-added images stay with the VM they were added for.
    QStringList mine;
    for (int r = model_->rowCount() - 1; r >= 0; --r)
        if (!model_->row(r).fromVm) {
            mine.prepend(model_->row(r).file);
            model_->removeRow(r);
        }
    handAdded_[vmName_] = mine;
    vmName_ = name;
    for (const QString& f : handAdded_[vmName_])
        model_->addImage(f);
}

QString ImagesPanel::resultText() const {
    return result_->isHidden() ? QString() : result_->text();
}

void ImagesPanel::showResult(const QString& text, bool error) {
    result_->setStyleSheet(error ? QStringLiteral("color: #c02020") : QString());
    result_->setText(text);
    result_->setVisible(!text.isEmpty());
}

bool ImagesPanel::rowInUse(int r) const {
    if (r < 0)
        return false;
    const ImageRow& row = model_->row(r);
    // A disk of the selected, running VM, or a node another user (a VM, an export) holds.
    if (vmRunning_ && row.fromVm)
        return true;
    return row.node && !row.lookedAt && context_.nodes &&
           !context_.nodes->users(row.node->name).empty();
}

void ImagesPanel::setImages(const QStringList& files) {
    QString keep = currentFile();
    vmFolder_ = files.isEmpty() ? QString() : QFileInfo(files.front()).absolutePath();
    model_->setVmImages(files);
    if (!keep.isEmpty())
        selectFile(keep);
    if (currentRow() < 0 && model_->rowCount() > 0)
        table_->selectRow(0);
    for (int r = 0; r < model_->rowCount(); ++r)
        if (!model_->row(r).error.isEmpty())
            logLine(context_, QStringLiteral("error"),
                    tr("%1: %2").arg(model_->row(r).file, model_->row(r).error));
}

void ImagesPanel::setVmRunning(bool running) {
    vmRunning_ = running;
    model_->refresh(); // a started VM opened its disks: show them live
    updateDetails();
    updateActions();
}

int ImagesPanel::currentRow() const {
    QModelIndex i = table_->selectionModel()->currentIndex();
    return i.isValid() ? i.row() : -1;
}

QString ImagesPanel::currentFile() const {
    int r = currentRow();
    return r < 0 ? QString() : model_->row(r).file;
}

void ImagesPanel::selectFile(const QString& file) {
    int r = model_->findFile(file);
    if (r >= 0)
        table_->selectRow(r);
}

QString ImagesPanel::detailsText() const {
    return details_->toPlainText();
}

void ImagesPanel::updateDetails() {
    int r = currentRow();
    const QString text = r < 0 ? QString() : imageDetailsText(model_->row(r), context_.nodes);
    if (text != details_->toPlainText()) // the refresh timer keeps the scroll position
        details_->setPlainText(text);
}

void ImagesPanel::updateActions() {
    int r = currentRow();
    bool open = r >= 0 && model_->row(r).node;
    // A row only looked at is opened for writing when the user resizes it.
    bool writable = open && (model_->row(r).lookedAt || !model_->row(r).node->image->readOnly());
    remove_->setEnabled(r >= 0 && !model_->row(r).fromVm);
    const bool inUse = rowInUse(r);
    resize_->setEnabled(writable && !inUse);
    resize_->setToolTip(inUse ? tr("Refused while a running VM uses this image: stop it first")
                              : tr("Grow the virtual disk"));
    convert_->setEnabled(open);
    check_->setEnabled(r >= 0);
    repair_->setEnabled(r >= 0 && !vmRunning_);
    repair_->setToolTip(vmRunning_ ? tr("Refused while the VM is running: stop it first")
                                   : tr("Check and repair leaks and corruptions"));
}

void ImagesPanel::addImage(const QString& file) {
    int r = model_->addImage(file);
    table_->selectRow(r);
    const ImageRow& row = model_->row(r);
    if (!row.error.isEmpty())
        reportError(context_, this, tr("Add image"), tr("%1: %2").arg(row.file, row.error));
    else
        logLine(context_, QStringLiteral("info"), tr("Opened %1").arg(row.file));
}

void ImagesPanel::chooseAdd() {
    QStringList files = QFileDialog::getOpenFileNames(
        this, tr("Add disk images"), {}, tr("Disk images (*.qcow2 *.raw *.img);;All files (*)"));
    for (const QString& f : files)
        addImage(f);
}

void ImagesPanel::removeCurrent() {
    int r = currentRow();
    if (r < 0 || model_->row(r).fromVm)
        return;
    const QString file = model_->row(r).file;
    QMessageBox ask(
        QMessageBox::Question, tr("Remove image"),
        tr("Remove %1 from this list? The file itself stays.").arg(QFileInfo(file).fileName()),
        QMessageBox::Cancel, this);
    ask.setObjectName(QStringLiteral("removeImageConfirm"));
    ask.setInformativeText(file);
    QPushButton* yes = ask.addButton(tr("Remove from list"), QMessageBox::AcceptRole);
    ask.setDefaultButton(QMessageBox::Cancel);
    ask.exec();
    if (ask.clickedButton() == yes)
        removeImage(file);
}

bool ImagesPanel::removeImage(const QString& file) {
    int r = model_->findFile(file);
    if (r < 0 || model_->row(r).fromVm)
        return false;
    auto node = model_->row(r).lookedAt ? nullptr : model_->row(r).node;
    model_->removeRow(r);
    if (node && context_.nodes && context_.nodes->users(node->name).empty()) {
        try {
            context_.nodes->remove(node->name);
        } catch (const std::exception& e) {
            logLine(context_, QStringLiteral("warning"), QString::fromStdString(e.what()));
        }
    }
    return true;
}

void ImagesPanel::createImage(const CreateImageRequest& request) {
    startPanelJob(
        context_, this, tr("Create %1").arg(QString::fromStdString(request.file)),
        [request](JobProgress& p) { return createImageJob(request, p); },
        [this, file = QString::fromStdString(request.file)](bool ok, const QString& message) {
            showResult(ok ? message : tr("Create: %1").arg(message), !ok);
            if (ok)
                addImage(file);
        });
}

void ImagesPanel::chooseCreate() {
    auto* dialog = new CreateImageDialog(this);
    dialog->setFolder(vmFolder_);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        try {
            createImage(dialog->request());
        } catch (const std::exception& e) {
            reportError(context_, this, tr("Create image"), QString::fromStdString(e.what()));
        }
    });
    dialog->open();
}

bool ImagesPanel::resizeCurrent(uint64_t newSize) {
    int r = currentRow();
    if (r < 0 || !model_->row(r).node)
        return false;
    model_->refresh(); // a VM started meanwhile: see its node
    try {
        // Refused while a running VM uses the image, without opening anything; else the change
        // the user asked for opens the image for writing.
        const bool inUse = rowInUse(r);
        auto node = inUse ? model_->row(r).node : model_->openForChange(r);
        growImage(*node->image, newSize, inUse);
    } catch (const std::exception& e) {
        showResult(tr("Resize: %1").arg(QString::fromStdString(e.what())), true);
        reportError(context_, this, tr("Resize"), QString::fromStdString(e.what()));
        return false;
    }
    const QString done =
        tr("Resized %1 to %2").arg(model_->row(r).file, ImageTableModel::sizeText(newSize));
    logLine(context_, QStringLiteral("info"), done);
    showResult(done, false);
    model_->refresh();
    return true;
}

void ImagesPanel::chooseResize() {
    int r = currentRow();
    if (r < 0 || !model_->row(r).node)
        return;
    if (rowInUse(r)) {
        reportError(context_, this, tr("Resize"),
                    tr("Resize is refused while the VM is running (the guest would see its "
                       "disk change under it); stop the VM first."));
        return;
    }
    uint64_t current = model_->row(r).node->image->size();
    bool ok = false;
    QString text = QInputDialog::getText(
        this, tr("Resize"),
        tr("Current virtual size: %1 (%2 bytes).\nNew size (grow only; e.g. 20G):\n"
           "Remember to grow the partition inside the guest afterwards.")
            .arg(ImageTableModel::sizeText(current))
            .arg(current),
        QLineEdit::Normal, ImageTableModel::sizeText(current * 2).remove(QLatin1Char(' ')), &ok);
    if (!ok)
        return;
    try {
        resizeCurrent(block::parseSize(text.remove(QStringLiteral("i")).toStdString()));
    } catch (const std::exception& e) {
        reportError(context_, this, tr("Resize"),
                    tr("Invalid size '%1': %2").arg(text, QString::fromStdString(e.what())));
    }
}

void ImagesPanel::convertCurrent(const QString& target, const QString& format) {
    model_->refresh(); // read through the live node if someone opened the image meanwhile
    int r = currentRow();
    if (r < 0 || !model_->row(r).node)
        return;
    auto node = model_->row(r).node; // keeps the source open while the job runs
    ConvertRequest req;
    req.target = target.toStdString();
    req.format = format.toStdString();
    if (auto cs = node->image->clusterSize(); cs && format == QLatin1String("qcow2"))
        req.clusterSize = cs;
    startPanelJob(
        context_, this, tr("Convert %1").arg(QFileInfo(model_->row(r).file).fileName()),
        [node, req](JobProgress& p) { return convertImageJob(*node->image, req, p); },
        [this, target](bool ok, const QString& message) {
            showResult(ok ? message : tr("Convert: %1").arg(message), !ok);
            if (ok)
                addImage(target); // the new image joins the list, selected
        });
}

void ImagesPanel::chooseConvert() {
    int r = currentRow();
    if (r < 0 || !model_->row(r).node)
        return;
    // One form: format and target together.
    auto* dialog = new ConvertImageDialog(model_->row(r).file, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &QDialog::accepted, this,
            [this, dialog] { convertCurrent(dialog->target(), dialog->format()); });
    dialog->open();
}

void ImagesPanel::checkCurrent(bool repair) {
    model_->refresh(); // close (or flush) the live node if someone opened the image meanwhile
    int r = currentRow();
    if (r < 0)
        return;
    const ImageRow& row = model_->row(r);
    std::string format = row.node ? row.node->image->formatName() : std::string();
    if (repair) {
        if (vmRunning_) {
            reportError(context_, this, tr("Repair"),
                        tr("Repair is refused while the VM is running: it rewrites metadata "
                           "the VM has open. Stop the VM first."));
            return;
        }
        // The repair opens the file itself: close our node first so nothing caches stale
        // metadata (refused while an export or the VM still uses it).
        if (row.node && !row.lookedAt && context_.nodes) {
            try {
                context_.nodes->remove(row.node->name);
            } catch (const std::exception& e) {
                reportError(context_, this, tr("Repair"), QString::fromStdString(e.what()));
                return;
            }
        }
    } else if (row.node) {
        try {
            row.node->image->flush(); // the check reads the file: write our cached tables first
        } catch (const std::exception&) {
            // read-only node: nothing to flush
        }
    }
    QString file = row.file;
    if (repair && row.node) {
        std::weak_ptr<vm::BlockNode> watch = row.node;
        model_->closeRow(r, tr("closed while being repaired")); // reopened after the job
        if (!watch.expired()) {
            // Someone else (a job, another window) still has the image open: repairing under
            // it would corrupt what it writes back.
            model_->reopen(r);
            reportError(context_, this, tr("Repair"),
                        tr("%1 is still open elsewhere (a running job or another panel); "
                           "repair needs it closed")
                            .arg(file));
            return;
        }
    }
    auto mode = repair ? block::RepairMode::All : block::RepairMode::None;
    // An image open here for writing (the VM's disk, a node) is checked as qemu-img check -U
    // would: its image locks would refuse a check that keeps it from writing.
    const bool shareWithNode = !repair && row.node && !row.lookedAt && !row.node->readOnly;
    startPanelJob(
        context_, this, (repair ? tr("Repair %1") : tr("Check %1")).arg(QFileInfo(file).fileName()),
        [file, format, mode, shareWithNode, live = vmRunning_](JobProgress& p) {
            QString result = checkImageJob(file.toStdString(), format, mode, shareWithNode, p);
            // Like qemu-img check -U: the VM keeps writing while the file is read.
            if (live)
                result.prepend(QStringLiteral("Checked while the VM runs (writes in flight can "
                                              "show as leaks): "));
            return result;
        },
        [this, file, repair](bool ok, const QString& message) {
            showResult((repair ? tr("Repair %1: %2") : tr("Check %1: %2"))
                           .arg(QFileInfo(file).fileName(), message),
                       !ok);
            if (!repair)
                return;
            int row2 = model_->findFile(file);
            if (row2 >= 0)
                model_->reopen(row2);
        });
}

void ImagesPanel::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void ImagesPanel::dropEvent(QDropEvent* event) {
    for (const QUrl& u : event->mimeData()->urls())
        if (u.isLocalFile())
            addImage(u.toLocalFile());
    event->acceptProposedAction();
}

} // namespace e2kvm::ui
