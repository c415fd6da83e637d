#include "ui/panels/ExportsPanel.h"

#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "app/vmcore/PointInTimeExports.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "ui/AppContext.h"
#include "ui/panels/ExportCommands.h"
#include "ui/panels/PanelFeedback.h"
#include "ui/panels/TableColumns.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDateTime>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <exception>
#include <optional>

namespace e2kvm::ui {

namespace {

// A checkpoint name for `when` that the catalog does not have yet ("ckpt-20261206-112233").
std::string checkpointNameAt(const QDateTime& when, const block::BitmapCatalog& catalog) {
    std::string base = "ckpt-" + when.toString(QStringLiteral("yyyyMMdd-hhmmss")).toStdString();
    std::string name = base;
    for (int n = 2; catalog.find(name); ++n)
        name = base + "-" + std::to_string(n);
    return name;
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names)
        out += (out.empty() ? "" : ", ") + n;
    return out;
}
QString q(const std::string& s) {
    return QString::fromStdString(s);
}
enum ExportColumn { NameCol, ImageCol, UriCol, ModeCol, BitmapsCol, ColCount };

QString clockTime(std::chrono::system_clock::time_point t) {
    return QDateTime::fromSecsSinceEpoch(std::chrono::system_clock::to_time_t(t))
        .toString(QStringLiteral("HH:mm:ss"));
}

} // namespace

ExportsPanel::ExportsPanel(AppContext& context, QWidget* parent)
    : QWidget(parent), context_(context) {
    images_ = new QComboBox(this);
    images_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    writable_ = new QCheckBox(tr("Writable"), this);
    writable_->setToolTip(tr("Clients may write to the image. Read-only is the safe default."));
    pointInTime_ = new QCheckBox(tr("Point in time (consistent while the VM runs)"), this);
    pointInTime_->setEnabled(false);
    tls_ = new QCheckBox(tr("TLS"), this);
    tlsDir_ = new QLineEdit(this);
    tlsDir_->setPlaceholderText(tr("certificate directory (ca-cert.pem, server-cert.pem, "
                                   "server-key.pem)"));
    tlsDir_->setEnabled(false);
    auto* browseTls = new QPushButton(tr("Browse…"), this);
    browseTls->setEnabled(false);
    exportName_ = new QLineEdit(this);
    exportName_->setObjectName(QStringLiteral("exportName"));
    exportName_->setToolTip(tr("The name clients ask for (nbd://host:port/NAME); empty: the "
                               "file's name"));
    bitmaps_ = new QListWidget(this);
    bitmaps_->setMaximumHeight(110);
    export_ = new QPushButton(tr("Export"), this);
    server_ = new QLabel(this);
    table_ = new QTableWidget(0, ColCount, this);
    table_->setHorizontalHeaderLabels(
        {tr("Export"), tr("Image"), tr("URI"), tr("Mode"), tr("Bitmaps")});
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    fitColumnsToContents(table_); // the last column stretches; no column collapses when empty
    note_ = new QLabel(this);
    note_->setWordWrap(true);
    note_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    note_->hide();
    commands_ = new QPlainTextEdit(this);
    commands_->setReadOnly(true);
    commands_->setPlaceholderText(tr("Select an export to see the commands that list what "
                                     "changed"));
    copyUri_ = new QPushButton(tr("Copy URI"), this);
    copyCommands_ = new QPushButton(tr("Copy commands"), this);
    stop_ = new QPushButton(tr("Stop export"), this);

    auto* form = new QGridLayout;
    form->addWidget(new QLabel(tr("Image:"), this), 0, 0);
    form->addWidget(images_, 0, 1, 1, 3);
    auto* modes = new QHBoxLayout;
    modes->addWidget(pointInTime_);
    modes->addSpacing(24);
    modes->addWidget(writable_);
    modes->addStretch(1);
    form->addLayout(modes, 1, 1, 1, 3);
    form->addWidget(tls_, 2, 0);
    form->addWidget(tlsDir_, 2, 1, 1, 2);
    form->addWidget(browseTls, 2, 3);
    form->addWidget(new QLabel(tr("Bitmaps:"), this), 3, 0, Qt::AlignTop);
    form->addWidget(bitmaps_, 3, 1, 1, 3);
    form->addWidget(new QLabel(tr("Export name:"), this), 4, 0);
    form->addWidget(exportName_, 4, 1, 1, 2);
    form->addWidget(export_, 4, 3);
    form->setColumnStretch(1, 1);
    auto* rowButtons = new QHBoxLayout;
    rowButtons->addWidget(server_, 1);
    rowButtons->addWidget(copyUri_);
    rowButtons->addWidget(copyCommands_);
    rowButtons->addWidget(stop_);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(table_, 1);
    layout->addWidget(note_);
    layout->addLayout(rowButtons);
    layout->addWidget(commands_, 1);

    connect(tls_, &QCheckBox::toggled, tlsDir_, &QLineEdit::setEnabled);
    connect(tls_, &QCheckBox::toggled, browseTls, &QPushButton::setEnabled);
    connect(browseTls, &QPushButton::clicked, this, [this] {
        QString dir = QFileDialog::getExistingDirectory(this, tr("TLS certificate directory"),
                                                        tlsDir_->text());
        if (!dir.isEmpty())
            tlsDir_->setText(dir);
    });
    connect(images_, &QComboBox::currentIndexChanged, this, [this] {
        refreshBitmapChoices(true);
        updateForm();
    });
    connect(pointInTime_, &QCheckBox::toggled, this, [this] { updateForm(); });
    connect(bitmaps_, &QListWidget::itemChanged, this, [this] {
        if (!fillingBitmaps_)
            ticksTouched_ = true;
    });
    connect(export_, &QPushButton::clicked, this, &ExportsPanel::chooseExport);
    connect(table_, &QTableWidget::itemSelectionChanged, this, &ExportsPanel::updateCommands);
    connect(copyUri_, &QPushButton::clicked, this, [this] {
        QString name = selectedExport();
        if (!name.isEmpty())
            QApplication::clipboard()->setText(uriFor(name));
    });
    connect(copyCommands_, &QPushButton::clicked, this,
            [this] { QApplication::clipboard()->setText(commands_->toPlainText()); });
    connect(stop_, &QPushButton::clicked, this, [this] {
        QString name = selectedExport();
        if (!name.isEmpty())
            stopExport(name);
    });
    if (context_.pointInTime) {
        // A point-in-time export that ended elsewhere (QMP removed the export or cancelled its
        // job): say so in the log. The callback comes from any thread; qApp outlives the panel.
        QPointer<ExportsPanel> self(this);
        context_.pointInTime->setOnReleased([self](const vm::PointInTimeInfo& info,
                                                   const std::string& why,
                                                   const std::string& error) {
            QString text = tr("Point-in-time export %1 ended: %2").arg(q(info.exportName), q(why));
            QString level = QStringLiteral("info");
            if (!error.empty()) {
                text += QStringLiteral("; ") + q(error);
                level = QStringLiteral("error");
            }
            QMetaObject::invokeMethod(
                qApp,
                [self, level, text] {
                    if (self) {
                        logLine(self->context_, level, text);
                        self->refreshExports();
                    }
                },
                Qt::QueuedConnection);
        });
    }
    refresh_.setInterval(1000);
    connect(&refresh_, &QTimer::timeout, this, &ExportsPanel::refresh);
    refresh_.start();
    refresh();
    updateCommands();
    updateForm();
}

ExportsPanel::~ExportsPanel() {
    if (context_.pointInTime)
        context_.pointInTime->setOnReleased({});
}

bool ExportsPanel::isVmDisk(const QString& file) const {
    return !file.isEmpty() && vmImages_.contains(file);
}

bool ExportsPanel::pointInTimeOffered() const {
    return context_.pointInTime && vmRunning_ && isVmDisk(images_->currentData().toString());
}

void ExportsPanel::updateForm() {
    bool offered = pointInTimeOffered();
    if (offered != pointInTimeWasOffered_) {
        // Ticked whenever it becomes available: a running disk is exported as a point in time
        // unless the user says otherwise.
        QSignalBlocker block(pointInTime_);
        pointInTime_->setChecked(offered);
        pointInTimeWasOffered_ = offered;
    }
    pointInTime_->setEnabled(offered);
    pointInTime_->setToolTip(
        offered ? tr("Export the disk as it is at the click: its data and the chosen checkpoint "
                     "bitmaps stay as they were while the guest runs on (a temporary image next "
                     "to the disk keeps what the guest overwrites; Stop export removes it)")
                : tr("For a disk of the running VM; a stopped VM's disk does not change while "
                     "it is exported"));
    const QString file = images_->currentData().toString();
    exportName_->setPlaceholderText(
        file.isEmpty() || !context_.exports
            ? QString()
            : tr("%1 (from the file name)").arg(q(exportNameForFile(file.toStdString()))));
    bool frozen = offered && pointInTime_->isChecked();
    if (frozen)
        writable_->setChecked(false);
    writable_->setEnabled(!frozen);
    writable_->setToolTip(frozen ? tr("A point in time is exported read-only")
                                 : tr("Clients may write to the image. Read-only is the safe "
                                      "default."));
    // A recording bitmap is offered (frozen at the click) only with a point in time.
    if (frozen != bitmapsForPointInTime_) {
        bitmapsForPointInTime_ = frozen;
        refreshBitmapChoices(false);
    }
}

void ExportsPanel::setImages(const QStringList& files) {
    vmImages_ = files;
    refreshImageList();
    updateForm();
}

void ExportsPanel::setVmRunning(bool running) {
    vmRunning_ = running;
    updateForm();
}

void ExportsPanel::refresh() {
    refreshImageList();
    refreshBitmapsIfChanged();
    if (context_.exports)
        stopIdleServer(); // its last export was removed elsewhere (QMP)
    refreshExports();
}

void ExportsPanel::refreshBitmapsIfChanged() {
    if (!context_.nodes || images_->currentIndex() < 0)
        return;
    auto node = context_.nodes->findByFile(images_->currentData().toString().toStdString());
    if (!node)
        return; // not open here: the list stays what the user's last look showed
    block::BitmapCatalog* catalog = node->image->bitmaps();
    if (node->image.get() != listedImage_ ||
        (catalog && catalog->generation() != listedGeneration_))
        refreshBitmapChoices(false);
}

void ExportsPanel::refreshImageList() {
    QStringList files = vmImages_;
    if (context_.nodes) {
        // An overlay (a point in time) is not an image to offer: choosing it would open its
        // file a second time.
        for (const auto& n : context_.nodes->list())
            if (!files.contains(q(n->file)) && !context_.nodes->overlaysOpenNode(*n))
                files << q(n->file);
    }
    QStringList shown;
    for (int i = 0; i < images_->count(); ++i)
        shown << images_->itemData(i).toString();
    if (shown == files)
        return;
    QString keep = images_->currentData().toString();
    {
        QSignalBlocker block(images_);
        images_->clear();
        for (const QString& f : files)
            images_->addItem(QFileInfo(f).fileName(), f);
        int i = images_->findData(keep);
        images_->setCurrentIndex(i >= 0 ? i : (files.isEmpty() ? -1 : 0));
    }
    refreshBitmapChoices();
}

void ExportsPanel::setCurrentImage(const QString& file) {
    refreshImageList();
    int i = images_->findData(file);
    if (i < 0) {
        images_->addItem(QFileInfo(file).fileName(), file);
        i = images_->count() - 1;
    }
    images_->setCurrentIndex(i);
    refreshBitmapChoices(true);
}

void ExportsPanel::refreshBitmapChoices(bool openIfClosed) {
    if (!context_.nodes || images_->currentIndex() < 0) {
        bitmaps_->clear();
        inspectedFile_.clear();
        listedImage_ = nullptr;
        return;
    }
    const QString chosen = images_->currentData().toString();
    const std::string file = chosen.toStdString();
    std::shared_ptr<block::BlockDriver> image;
    if (auto node = context_.nodes->findByFile(file)) {
        image = node->image;
        inspectedFile_.clear();
    } else if (!openIfClosed) {
        // Not open here: keep what the user's last look at this image showed.
        if (chosen != inspectedFile_) {
            bitmaps_->clear();
            inspectedFile_.clear();
            listedImage_ = nullptr;
        }
        return;
    } else {
        // Looking is read-only: the image is not put in the node table, and a read-only open
        // changes nothing in the file (a writable one would repair a dirty qcow2). Exporting it
        // opens it for real. The look shares the image (qemu-img info -U), as the other looks.
        try {
            block::OpenOptions readOnly;
            readOnly.readOnly = true;
            readOnly.forceShare = true;
            image = block::openImage(file, readOnly);
        } catch (const std::exception& e) {
            bitmaps_->clear();
            inspectedFile_.clear();
            listedImage_ = nullptr;
            logLine(context_, QStringLiteral("error"), q(file + ": " + e.what()));
            return;
        }
        inspectedFile_ = chosen;
    }
    // Ticks the user set stay for the bitmaps that are still listed in the same state.
    struct Tick {
        QString name;
        QString text;
        bool checked;
    };
    std::vector<Tick> kept;
    if (ticksTouched_ && listedImage_ && image.get() == listedImage_)
        for (int i = 0; i < bitmaps_->count(); ++i)
            kept.push_back({bitmaps_->item(i)->data(Qt::UserRole).toString(),
                            bitmaps_->item(i)->text(),
                            bitmaps_->item(i)->checkState() == Qt::Checked});
    else
        ticksTouched_ = false;
    QSignalBlocker blockTicks(bitmaps_);
    fillingBitmaps_ = true;
    bitmaps_->clear();
    fillingBitmaps_ = false;
    block::BitmapCatalog* catalog = image ? image->bitmaps() : nullptr;
    listedImage_ = inspectedFile_.isEmpty() ? image.get() : nullptr;
    listedGeneration_ = catalog ? catalog->generation() : 0;
    if (!catalog)
        return;
    const std::vector<block::NamedBitmap> listed = catalog->list();
    // One click exports the newest checkpoint: with a point in time the recording bitmap
    // (frozen at the click, it becomes the newest checkpoint), else the last frozen one.
    const bool freezing = pointInTime_->isChecked() && pointInTimeOffered();
    std::string newest;
    for (const block::NamedBitmap& b : listed)
        if (!b.inconsistent && b.enabled == freezing)
            newest = b.name;
    for (const block::NamedBitmap& b : listed) {
        auto* item = new QListWidgetItem(q(b.name), bitmaps_);
        if (b.inconsistent) {
            item->setFlags(item->flags() & ~(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable));
            item->setText(tr("%1 (inconsistent: cannot be exported)").arg(q(b.name)));
            item->setToolTip(q(block::BitmapCatalog::inconsistentMessage(file, b.name)));
            continue;
        }
        const bool freezable = b.enabled && freezing;
        if (b.enabled) {
            item->setText(freezable
                              ? tr("%1 (recording: frozen at the point in time)").arg(q(b.name))
                              : tr("%1 (recording)").arg(q(b.name)));
            item->setToolTip(freezable
                                 ? tr("Exporting freezes it at the point in time and starts a "
                                      "new checkpoint, so it lists exactly what changed up to the "
                                      "exported data")
                                 : tr("Still records writes: a read-only export needs it frozen "
                                      "(start a new checkpoint in the Bitmaps tab)"));
        }
        // Other bitmaps can be ticked by hand (a recording one is refused by a read-only export
        // without a point in time).
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        bool checked = b.name == newest;
        for (const Tick& t : kept)
            if (t.name == q(b.name) && t.text == item->text())
                checked = t.checked;
        item->setCheckState(checked ? Qt::Checked : Qt::Unchecked);
        item->setData(Qt::UserRole, q(b.name));
    }
}

QStringList ExportsPanel::offeredBitmaps() const {
    QStringList out;
    for (int i = 0; i < bitmaps_->count(); ++i)
        if (bitmaps_->item(i)->flags() & Qt::ItemIsUserCheckable)
            out << bitmaps_->item(i)->data(Qt::UserRole).toString();
    return out;
}

void ExportsPanel::ensureServer(const QString& tlsDir) {
    vm::NbdExportService& service = *context_.exports;
    if (service.running()) {
        bool serverTls = service.uriFor("x").rfind("nbds", 0) == 0;
        if (serverTls != !tlsDir.isEmpty())
            throw std::runtime_error(
                serverTls ? "the NBD server is running with TLS; untick TLS or stop every export"
                          : "the NBD server is running without TLS; stop every export first to "
                            "restart it with TLS");
        if (serverTls && tlsDir != serverTlsDir_ && !serverTlsDir_.isEmpty())
            throw std::runtime_error("the NBD server uses the certificates in " +
                                     serverTlsDir_.toStdString());
        return;
    }
    vm::NbdListenAddress address;
    address.host = "127.0.0.1";
    address.port = kDefaultPort;
    nbd::TlsServerSettings tls;
    tls.dir = tlsDir.toStdString();
    try {
        service.start(address, tls);
    } catch (const std::exception& busy) {
        address.port = 0; // 10809 taken (another server, a qemu-nbd): any free port will do
        service.start(address, tls);
        logLine(context_, QStringLiteral("warning"),
                tr("Port %1 is busy (%2); the NBD server listens on port %3 instead")
                    .arg(kDefaultPort)
                    .arg(q(busy.what()))
                    .arg(service.address().port));
    }
    serverTlsDir_ = tlsDir;
    serverStartedHere_ = true;
    logLine(context_, QStringLiteral("info"),
            tr("NBD server listening on %1:%2%3")
                .arg(q(service.address().host))
                .arg(service.address().port)
                .arg(tlsDir.isEmpty() ? QString() : tr(" (TLS)")));
}

QString ExportsPanel::exportImage(const ExportChoice& choice) {
    try {
        if (!context_.exports || !context_.nodes)
            throw std::runtime_error("no NBD export service in this window");
        if (choice.file.isEmpty())
            throw std::runtime_error("choose an image to export");
        std::string file = choice.file.toStdString();
        auto node = context_.nodes->findByFile(file);
        if (!node) {
            // Writable when possible, like the other panels open it, so that the VM and the
            // images panel can still write; read-only files are fine for read-only exports.
            try {
                node = context_.nodes->open(file, "", false);
            } catch (const std::exception&) {
                if (choice.writable)
                    throw;
                node = context_.nodes->open(file, "", true);
            }
        }
        // A point in time of a disk the running VM writes (read-only by nature).
        const bool pointInTime =
            choice.pointInTime && context_.pointInTime && vmRunning_ && isVmDisk(choice.file);
        if (pointInTime && choice.writable)
            throw std::runtime_error("a point in time is exported read-only; untick Writable");
        if (choice.writable && node->image->readOnly())
            throw std::runtime_error(file + " is open read-only; it cannot be exported writable");
        // With a point in time, a ticked recording bitmap is frozen at that very moment (and a
        // new checkpoint starts recording), so that it lists exactly what changed up to the
        // data the export shows.
        std::vector<std::string> freeze;
        if (block::BitmapCatalog* catalog = node->image->bitmaps()) {
            for (const QString& b : choice.bitmaps) {
                (void)catalog->usable(b.toStdString()); // missing or inconsistent: say why now
                if (pointInTime && catalog->find(b.toStdString())->enabled) {
                    freeze.push_back(b.toStdString());
                    continue;
                }
                if (!choice.writable && catalog->find(b.toStdString())->enabled)
                    throw std::runtime_error(
                        "bitmap '" + b.toStdString() +
                        "' still records writes, so a read-only export cannot publish it: start "
                        "a new checkpoint in the Bitmaps tab to freeze it" +
                        std::string(pointInTime ? "" : ", or export writable"));
            }
        } else if (!choice.bitmaps.isEmpty()) {
            throw std::runtime_error(node->image->formatName() + " images have no dirty bitmaps");
        }
        ensureServer(choice.tlsDir);
        // The name asked for, or a unique one from the file name.
        std::string name = choice.exportName.trimmed().toStdString();
        if (!name.empty()) {
            if (context_.exports->hasExportId(name))
                throw std::runtime_error("an export named '" + name +
                                         "' exists already; choose another name");
        } else {
            std::string base = exportNameForFile(file);
            name = base;
            for (int n = 2; context_.exports->hasExportId(name); ++n)
                name = base + "-" + std::to_string(n);
        }
        if (pointInTime) {
            vm::PointInTimeRequest req;
            req.nodeName = node->name;
            req.exportName = name;
            req.description =
                QFileInfo(choice.file).fileName().toStdString(); // not the host's path
            for (const QString& b : choice.bitmaps)
                if (std::find(freeze.begin(), freeze.end(), b.toStdString()) == freeze.end())
                    req.bitmaps.push_back(b.toStdString());
            req.freeze = freeze;
            if (!freeze.empty())
                req.newCheckpoint =
                    checkpointNameAt(QDateTime::currentDateTime(), *node->image->bitmaps());
            vm::PointInTimeInfo info = context_.pointInTime->start(req);
            if (!freeze.empty())
                logLine(context_, QStringLiteral("info"),
                        tr("Froze %1 at the point in time; new checkpoint %2 records from now on")
                            .arg(q(joined(freeze)), q(req.newCheckpoint)));
            logLine(context_, QStringLiteral("info"),
                    tr("Exported %1 as %2 (read-only point in time taken at %3; the guest's "
                       "writes since then are kept aside in %4)")
                        .arg(choice.file, q(context_.exports->uriFor(name)),
                             clockTime(info.takenAt), q(info.overlayFile)));
            refreshExports();
            for (int r = 0; r < table_->rowCount(); ++r)
                if (table_->item(r, NameCol)->text() == q(name))
                    table_->selectRow(r);
            exportName_->clear();
            return q(name);
        }
        vm::NbdExportRequest req;
        req.exportName = name;
        req.id = name;
        req.nodeName = node->name;
        req.writable = choice.writable;
        req.description = QFileInfo(choice.file).fileName().toStdString(); // not the host's path
        for (const QString& b : choice.bitmaps)
            req.bitmaps.push_back(b.toStdString());
        context_.exports->add(req);
        logLine(context_, QStringLiteral("info"),
                tr("Exported %1 as %2 (%3)")
                    .arg(choice.file, q(context_.exports->uriFor(name)),
                         choice.writable ? tr("writable") : tr("read-only")));
        refreshExports();
        for (int r = 0; r < table_->rowCount(); ++r)
            if (table_->item(r, NameCol)->text() == q(name))
                table_->selectRow(r);
        exportName_->clear();
        return q(name);
    } catch (const std::exception& e) {
        reportError(context_, this, tr("Export %1").arg(QFileInfo(choice.file).fileName()),
                    q(e.what()));
        return {};
    }
}

ExportChoice ExportsPanel::currentChoice() const {
    ExportChoice c;
    c.file = images_->currentData().toString();
    c.writable = writable_->isChecked();
    for (int i = 0; i < bitmaps_->count(); ++i) {
        QListWidgetItem* item = bitmaps_->item(i);
        if ((item->flags() & Qt::ItemIsUserCheckable) && item->checkState() == Qt::Checked)
            c.bitmaps << item->data(Qt::UserRole).toString();
    }
    if (tls_->isChecked())
        c.tlsDir = tlsDir_->text().trimmed();
    c.exportName = exportName_->text().trimmed();
    c.pointInTime = pointInTimeOffered() && pointInTime_->isChecked();
    if (c.pointInTime)
        c.writable = false;
    return c;
}

void ExportsPanel::chooseExport() {
    ExportChoice c = currentChoice();
    if (tls_->isChecked()) {
        if (c.tlsDir.isEmpty()) {
            reportError(context_, this, tr("Export"),
                        tr("TLS is ticked: choose the certificate directory"));
            return;
        }
    }
    if (c.writable && vmRunning_) {
        auto answer = QMessageBox::warning(
            this, tr("Writable export of a running VM"),
            tr("The VM is running and writes to %1. A client writing through the export at the "
               "same time can corrupt the guest's file system.\n\nExport it writable anyway?")
                .arg(QFileInfo(c.file).fileName()),
            QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel);
        if (answer != QMessageBox::Yes)
            return;
    }
    exportImage(c);
}

bool ExportsPanel::stopExport(const QString& exportName) {
    if (!context_.exports)
        return false;
    bool removed = false;
    std::optional<vm::PointInTimeInfo> frozen;
    if (context_.pointInTime)
        frozen = context_.pointInTime->find(exportName.toStdString());
    try {
        if (frozen)
            removed = context_.pointInTime->stop(exportName.toStdString());
        else
            removed = context_.exports->remove(exportName.toStdString(), true);
    } catch (const std::exception& e) {
        reportError(context_, this, tr("Stop export"), q(e.what()));
        refreshExports();
        return false;
    }
    if (removed && frozen)
        logLine(context_, QStringLiteral("info"),
                tr("Export %1 stopped; its point in time was released (%2 deleted)")
                    .arg(exportName, q(frozen->overlayFile)));
    else if (removed)
        logLine(context_, QStringLiteral("info"), tr("Export %1 stopped").arg(exportName));
    stopIdleServer();
    refreshExports();
    return removed;
}

void ExportsPanel::stopIdleServer() {
    // The server this panel started stops listening with its last export (one a QMP client
    // started is theirs to stop).
    vm::NbdExportService& service = *context_.exports;
    if (!serverStartedHere_ || !service.running() || !service.list().empty())
        return;
    service.stop();
    serverStartedHere_ = false;
    logLine(context_, QStringLiteral("info"), tr("NBD server stopped: no export left"));
}

QString ExportsPanel::pointInTimeNote(const QString& exportName, bool withFile) const {
    if (!context_.pointInTime)
        return {};
    std::optional<vm::PointInTimeInfo> info = context_.pointInTime->find(exportName.toStdString());
    if (!info)
        return {};
    QString text = (info->bitmaps.empty()
                        ? tr("Point in time taken at %1: clients read the disk as it was then, "
                             "while the VM runs on.")
                        : tr("Point in time taken at %1: clients read the disk and its "
                             "checkpoint bitmaps as they were then, while the VM runs on."))
                       .arg(clockTime(info->takenAt));
    if (withFile)
        text += QLatin1Char(' ') +
                tr("What the guest overwrites meanwhile is kept in %1; Stop export releases it.")
                    .arg(q(info->overlayFile));
    return text;
}

QString ExportsPanel::selectedExportNote() const {
    return note_->text();
}

ExportEndpoint ExportsPanel::endpointFor(const std::string& exportName) const {
    ExportEndpoint e;
    vm::NbdListenAddress a = context_.exports->address();
    e.host = a.host;
    e.port = a.port;
    e.unixPath = a.unixPath;
    e.exportName = exportName;
    if (context_.exports->uriFor(exportName).rfind("nbds", 0) == 0)
        e.tlsDir = serverTlsDir_.isEmpty() ? "TLS-CERT-DIR" : serverTlsDir_.toStdString();
    return e;
}

QString ExportsPanel::uriFor(const QString& exportName) const {
    return context_.exports ? q(context_.exports->uriFor(exportName.toStdString())) : QString();
}

QString ExportsPanel::commandsFor(const QString& exportName) const {
    if (!context_.exports)
        return {};
    for (const vm::NbdExportInfo& info : context_.exports->list())
        if (q(info.exportName) == exportName) {
            QString commands =
                q(changedExtentsCommands(endpointFor(info.exportName), info.bitmaps));
            QString note = pointInTimeNote(exportName, false);
            return note.isEmpty() ? commands : QStringLiteral("# ") + note + u'\n' + commands;
        }
    return {};
}

int ExportsPanel::exportRows() const {
    return table_->rowCount();
}

QString ExportsPanel::clientsText() const {
    return server_->text();
}

QString ExportsPanel::selectedExport() const {
    auto rows = table_->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return {};
    return table_->item(rows.front().row(), NameCol)->text();
}

void ExportsPanel::refreshExports() {
    if (!context_.exports) {
        server_->setText(tr("No NBD export service"));
        return;
    }
    vm::NbdExportService& service = *context_.exports;
    if (!service.running()) {
        server_->setText(tr("NBD server stopped (starts with the first export)"));
    } else {
        vm::NbdListenAddress a = service.address();
        QString where = a.unixPath.empty() ? tr("%1:%2").arg(q(a.host)).arg(a.port) : q(a.unixPath);
        unsigned clients = service.connectedClients();
        server_->setText(
            tr("NBD server on %1 · %n client(s) connected", nullptr, int(clients)).arg(where));
    }
    auto list = service.list();
    QString keep = selectedExport();
    bool same = int(list.size()) == table_->rowCount();
    for (int r = 0; same && r < table_->rowCount(); ++r)
        same = table_->item(r, NameCol)->text() == q(list[size_t(r)].exportName) &&
               table_->item(r, UriCol)->text() == q(service.uriFor(list[size_t(r)].exportName));
    if (same)
        return; // keep the selection and the scroll position
    QSignalBlocker block(table_);
    table_->setRowCount(int(list.size()));
    for (int r = 0; r < int(list.size()); ++r) {
        const vm::NbdExportInfo& info = list[size_t(r)];
        std::optional<vm::PointInTimeInfo> frozen;
        if (context_.pointInTime)
            frozen = context_.pointInTime->find(info.exportName);
        // A point in time shows the disk it was taken of, not its temporary overlay.
        const std::string& nodeName = frozen ? frozen->sourceNode : info.nodeName;
        auto node = context_.nodes ? context_.nodes->find(nodeName) : nullptr;
        QStringList bitmaps;
        for (const auto& b : info.bitmaps)
            bitmaps << q(b);
        QString mode = info.writable ? tr("writable") : tr("read-only");
        if (frozen)
            mode = tr("read-only, point in time at %1").arg(clockTime(frozen->takenAt));
        const QString cells[ColCount] = {
            q(info.exportName), node ? QFileInfo(q(node->file)).fileName() : q(nodeName),
            q(service.uriFor(info.exportName)), mode, bitmaps.join(QStringLiteral(", "))};
        for (int c = 0; c < ColCount; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            item->setToolTip(c == ImageCol && node ? q(node->file) : cells[c]);
            table_->setItem(r, c, item);
        }
        if (q(info.exportName) == keep)
            table_->selectRow(r);
    }
    resizeColumnsToFit(table_); // an empty table keeps its widths rather than collapse
    updateCommands();
}

void ExportsPanel::updateCommands() {
    QString name = selectedExport();
    commands_->setPlainText(name.isEmpty() ? QString() : commandsFor(name));
    QString note = name.isEmpty() ? QString() : pointInTimeNote(name, true);
    note_->setText(note);
    note_->setVisible(!note.isEmpty());
    copyUri_->setEnabled(!name.isEmpty());
    copyCommands_->setEnabled(!name.isEmpty());
    stop_->setEnabled(!name.isEmpty());
}

} // namespace e2kvm::ui
