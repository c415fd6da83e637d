#include "ui/panels/BackupsPanel.h"

#include "app/backup/BackupOperations.h"
#include "app/backup/ImageFileSource.h"
#include "app/backup/VmNodeSource.h"
#include "app/vmcore/BlockNodeTable.h"
#include "ui/AppContext.h"
#include "ui/jobs/JobProgress.h"
#include "ui/jobs/JobProgressDialog.h"
#include "ui/jobs/JobRunner.h"
#include "ui/library/VmLibrary.h"
#include "ui/mainwindow/VmSession.h"
#include "ui/panels/PanelFeedback.h"
#include "ui/panels/SizeText.h"
#include "ui/panels/TableColumns.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTableView>
#include <QUuid>
#include <QVBoxLayout>

#include <stdexcept>

namespace e2kvm::ui {

namespace {

QString q(const std::string& s) {
    return QString::fromStdString(s);
}

QString pointSummary(const backup::RestorePoint& p) {
    QString text = QObject::tr("point %1 (%2): %3 of %4 changed, %5 copied, %6 stored")
                       .arg(p.number)
                       .arg(p.type == backup::PointType::Full ? QObject::tr("full")
                                                              : QObject::tr("incremental"))
                       .arg(sizeText(p.changedBytes), sizeText(p.virtualSize),
                            sizeText(p.copiedBytes), sizeText(p.storedBytes));
    if (!p.compression.empty())
        text += QObject::tr(" (%1-compressed)").arg(QString::fromStdString(p.compression));
    return text;
}

// Reports the library's progress to the job (the total may grow once), and passes a cancel
// asked of the job (its progress window, the runner closing) on to the library.
backup::ProgressSink progressOf(JobProgress& job, std::atomic<bool>& cancel) {
    return [&job, &cancel](uint64_t done, uint64_t total) {
        job.setTotal(total);
        job.setDone(done);
        if (job.cancelRequested())
            cancel = true;
    };
}

} // namespace

BackupsPanel::BackupsPanel(AppContext& context, VmLibrary& library, QString dataDir,
                           QWidget* parent)
    : QWidget(parent), context_(context), library_(library), dataDir_(std::move(dataDir)),
      cancel_(std::make_shared<std::atomic<bool>>(false)) {
    disks_ = new QComboBox(this);
    disks_->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    folder_ = new QLineEdit(this);
    folder_->setToolTip(tr("The folder of this VM's restore points; each disk has its own "
                           "folder below it (disk0, disk1, ...)"));
    choose_ = new QPushButton(tr("Choose…"), this);
    keepOn_ = new QCheckBox(tr("Keep only the newest"), this);
    keep_ = new QSpinBox(this);
    keep_->setRange(1, kMaxBackupKeep);
    keep_->setValue(7);
    keep_->setSuffix(tr(" points"));
    keep_->setToolTip(tr("After each backup, older points are merged into the oldest kept one, "
                         "so every kept point still restores exactly"));
    compress_ = new QCheckBox(tr("Compress (zstd)"), this);
    compress_->setToolTip(tr("Store new restore points with their data compressed: smaller "
                             "files, and any qcow2 reader (qemu-img 5.1 or later) still "
                             "reads them"));
    backUp_ = new QPushButton(tr("&Back up now"), this);
    verify_ = new QPushButton(tr("Veri&fy"), this);
    restoreImage_ = new QPushButton(tr("&Restore to image…"), this);
    restoreVm_ = new QPushButton(tr("Restore as new VM"), this);
    restoreDisk_ = new QPushButton(tr("Restore onto disk…"), this);
    bar_ = new QProgressBar(this);
    bar_->setRange(0, 1000);
    bar_->setTextVisible(true);
    status_ = new QLabel(this);
    cancelButton_ = new QPushButton(tr("Cancel"), this);
    messageLabel_ = new QLabel(this);
    messageLabel_->setWordWrap(true);
    messageLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    messageLabel_->setObjectName(QStringLiteral("backupMessage"));
    empty_ = new QLabel(this);
    empty_->setWordWrap(true);
    table_ = new QTableView(this);
    table_->setModel(&model_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    fitColumnsToContents(table_);

    auto* form = new QGridLayout;
    form->addWidget(new QLabel(tr("Disk:"), this), 0, 0);
    form->addWidget(disks_, 0, 1, 1, 2);
    form->addWidget(new QLabel(tr("Backup folder:"), this), 1, 0);
    form->addWidget(folder_, 1, 1);
    form->addWidget(choose_, 1, 2);
    auto* keepRow = new QHBoxLayout;
    keepRow->addWidget(keepOn_);
    keepRow->addWidget(keep_);
    keepRow->addSpacing(24);
    keepRow->addWidget(compress_);
    keepRow->addStretch(1);
    form->addLayout(keepRow, 2, 1, 1, 2);
    form->setColumnStretch(1, 1);
    auto* actions = new QHBoxLayout;
    actions->addWidget(backUp_);
    actions->addWidget(verify_);
    actions->addSpacing(24);
    actions->addWidget(restoreImage_);
    actions->addWidget(restoreVm_);
    actions->addWidget(restoreDisk_);
    actions->addStretch(1);
    auto* progressRow = new QHBoxLayout;
    progressRow->addWidget(bar_, 1);
    progressRow->addWidget(status_, 2);
    progressRow->addWidget(cancelButton_);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addLayout(actions);
    layout->addLayout(progressRow);
    layout->addWidget(messageLabel_);
    layout->addWidget(empty_);
    layout->addWidget(table_, 1);

    connect(disks_, &QComboBox::currentIndexChanged, this, [this] {
        refreshPoints();
        updateForm();
    });
    connect(folder_, &QLineEdit::editingFinished, this, [this] {
        QString text = folder_->text().trimmed();
        if (text != backupRoot())
            setBackupRoot(text == suggestedRoot() ? QString() : text);
    });
    connect(choose_, &QPushButton::clicked, this, &BackupsPanel::chooseFolder);
    connect(keepOn_, &QCheckBox::toggled, this,
            [this](bool on) { setKeep(on ? keep_->value() : 0); });
    connect(keep_, &QSpinBox::valueChanged, this, [this](int n) {
        if (keepOn_->isChecked())
            setKeep(n);
    });
    connect(compress_, &QCheckBox::toggled, this, [this](bool on) { setCompression(on); });
    connect(backUp_, &QPushButton::clicked, this, [this] { backUpNow(); });
    connect(verify_, &QPushButton::clicked, this, [this] { verifyAll(); });
    connect(restoreImage_, &QPushButton::clicked, this, &BackupsPanel::chooseImageAndRestore);
    connect(restoreVm_, &QPushButton::clicked, this, [this] { restoreAsNewVm(std::nullopt); });
    connect(restoreDisk_, &QPushButton::clicked, this,
            [this] { restoreOntoDisk(std::nullopt, false); });
    connect(cancelButton_, &QPushButton::clicked, this, &BackupsPanel::cancel);
    connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            [this] { updateForm(); });
    showMessage({}, false);
    updateForm();
}

BackupsPanel::~BackupsPanel() {
    // A job still running goes on without the panel (it holds only what it needs), told to
    // stop: nothing of an interrupted backup, verify or restore is kept.
    cancel();
}

const VmDefinition* BackupsPanel::definition() const {
    int row = library_.indexOf(vm_);
    return row < 0 ? nullptr : &library_.at(row);
}

int BackupsPanel::diskIndex() const {
    return disks_->currentIndex();
}

void BackupsPanel::setDiskIndex(int disk) {
    disks_->setCurrentIndex(disk);
}

QString BackupsPanel::suggestedRoot() const {
    return vm_.isEmpty() ? QString() : QDir(dataDir_).filePath(QStringLiteral("backups/") + vm_);
}

QString BackupsPanel::backupRoot() const {
    const VmDefinition* def = definition();
    if (def && !def->backupDir.isEmpty())
        return def->backupDir;
    return suggestedRoot();
}

QString BackupsPanel::diskBackupDir(int disk) const {
    return QDir(backupRoot()).filePath(QStringLiteral("disk%1").arg(disk));
}

bool BackupsPanel::saveDefinition(const std::function<void(VmDefinition&)>& change) {
    int row = library_.indexOf(vm_);
    if (row < 0)
        return false;
    VmDefinition def = library_.at(row);
    change(def);
    if (def == library_.at(row))
        return true;
    try {
        library_.update(row, def);
    } catch (const std::exception& e) {
        showMessage(tr("Cannot save the backup settings of %1: %2").arg(vm_, q(e.what())), true);
        logLine(context_, QStringLiteral("error"), messageText());
        return false;
    }
    return true;
}

bool BackupsPanel::setBackupRoot(const QString& dir) {
    QString stored = dir.trimmed();
    if (!stored.isEmpty())
        stored = QDir::cleanPath(QFileInfo(stored).absoluteFilePath());
    bool ok = saveDefinition([&](VmDefinition& d) { d.backupDir = stored; });
    if (ok)
        logLine(context_, QStringLiteral("info"),
                tr("%1: backups go to %2").arg(vm_, backupRoot()));
    folder_->setText(backupRoot());
    refreshPoints();
    updateForm();
    return ok;
}

bool BackupsPanel::setKeep(int points) {
    bool ok = saveDefinition([&](VmDefinition& d) { d.backupKeep = std::max(0, points); });
    const VmDefinition* def = definition();
    QSignalBlocker b1(keepOn_), b2(keep_);
    keepOn_->setChecked(def && def->backupKeep > 0);
    if (def && def->backupKeep > 0)
        keep_->setValue(def->backupKeep);
    keep_->setEnabled(keepOn_->isChecked());
    return ok;
}

bool BackupsPanel::setCompression(bool on) {
    bool ok = saveDefinition(
        [&](VmDefinition& d) { d.backupCompression = on ? QStringLiteral("zstd") : QString(); });
    const VmDefinition* def = definition();
    QSignalBlocker block(compress_);
    compress_->setChecked(def && !def->backupCompression.isEmpty());
    return ok;
}

void BackupsPanel::setVm(const QString& name) {
    // The same VM again (its disks were reopened): keep the chosen disk; another: disk 0.
    const int keepIndex = name == vm_ ? disks_->currentIndex() : 0;
    vm_ = name;
    const VmDefinition* def = definition();
    {
        QSignalBlocker block(disks_);
        disks_->clear();
        if (def)
            for (int i = 0; i < def->disks.size(); ++i)
                disks_->addItem(
                    tr("disk %1: %2 (%3)")
                        .arg(i)
                        .arg(QFileInfo(def->disks[i].file).fileName(), def->disks[i].format),
                    def->disks[i].file);
        disks_->setCurrentIndex(keepIndex >= 0 && keepIndex < disks_->count()
                                    ? keepIndex
                                    : (disks_->count() > 0 ? 0 : -1));
    }
    folder_->setText(backupRoot());
    folder_->setPlaceholderText(suggestedRoot());
    {
        QSignalBlocker b1(keepOn_), b2(keep_);
        keepOn_->setChecked(def && def->backupKeep > 0);
        if (def && def->backupKeep > 0)
            keep_->setValue(def->backupKeep);
        keep_->setEnabled(keepOn_->isChecked());
        QSignalBlocker b3(compress_);
        compress_->setChecked(def && !def->backupCompression.isEmpty());
    }
    refreshPoints();
    updateForm();
}

void BackupsPanel::setImages(const QStringList& files) {
    // The selected VM's disks changed (or were reopened): list them again.
    const VmDefinition* def = definition();
    QStringList listed;
    for (int i = 0; i < disks_->count(); ++i)
        listed << disks_->itemData(i).toString();
    if (def && listed != files)
        setVm(vm_);
}

void BackupsPanel::setVmRunning(bool running) {
    vmRunning_ = running;
    updateForm();
}

void BackupsPanel::refreshPoints() {
    // The selected point stays selected (a restore of it, a verify).
    std::optional<uint64_t> keep;
    if (auto rows = table_->selectionModel()->selectedRows(); !rows.isEmpty())
        if (const backup::RestorePoint* p = model_.pointAt(rows.front().row()))
            keep = p->number;
    std::vector<backup::RestorePoint> points;
    QString dir = diskIndex() >= 0 ? diskBackupDir(diskIndex()) : QString();
    QString emptyText;
    if (dir.isEmpty()) {
        emptyText = tr("Select a VM with a disk to back it up.");
    } else if (!QFileInfo::exists(QDir(dir).filePath(QStringLiteral("e2kvm-backup.json")))) {
        emptyText = tr("No restore points in %1 yet: Back up now takes a full point, later ones "
                       "are incremental.")
                        .arg(dir);
    } else {
        try {
            backup::BackupRepository repo(dir.toStdString(),
                                          backup::BackupRepository::Access::Read);
            points = repo.points();
            if (points.empty())
                emptyText = tr("No restore points in %1.").arg(dir);
            else
                emptyText = tr("%n restore point(s) of disk %1 in %2", nullptr, int(points.size()))
                                .arg(diskIndex())
                                .arg(dir);
        } catch (const std::exception& e) {
            emptyText = tr("Cannot read the backups in %1: %2").arg(dir, q(e.what()));
        }
    }
    empty_->setText(emptyText);
    model_.setPoints(std::move(points));
    resizeColumnsToFit(table_);
    for (int r = 0; keep && r < model_.rowCount(); ++r)
        if (model_.pointAt(r)->number == *keep)
            table_->selectRow(r);
    updateForm();
}

std::optional<uint64_t> BackupsPanel::chosenPoint() const {
    auto rows = table_->selectionModel()->selectedRows();
    if (!rows.isEmpty())
        if (const backup::RestorePoint* p = model_.pointAt(rows.front().row()))
            return p->number;
    if (model_.points().empty())
        return std::nullopt;
    return model_.points().back().number;
}

void BackupsPanel::updateForm() {
    const VmDefinition* def = definition();
    const bool haveDisk = def && diskIndex() >= 0;
    const bool idle = !busy();
    const bool havePoints = !model_.points().empty();
    disks_->setEnabled(idle && haveDisk);
    folder_->setEnabled(idle && def);
    choose_->setEnabled(idle && def);
    keepOn_->setEnabled(idle && def);
    keep_->setEnabled(idle && def && keepOn_->isChecked());
    compress_->setEnabled(idle && def);
    backUp_->setEnabled(idle && haveDisk);
    backUp_->setToolTip(
        vmRunning_ ? tr("Take a restore point of the running VM's disk: a point in time of it, "
                        "while the guest keeps running (full the first time, then incremental)")
                   : tr("Take a restore point of the disk (full the first time, then "
                        "incremental)"));
    verify_->setEnabled(idle && havePoints);
    restoreImage_->setEnabled(idle && havePoints);
    restoreVm_->setEnabled(idle && havePoints);
    restoreDisk_->setEnabled(idle && havePoints);
    restoreDisk_->setToolTip(vmRunning_
                                 ? tr("The VM is running: shut it down to restore onto its disk")
                                 : tr("Replace the disk of the stopped VM with the chosen point"));
    bar_->setVisible(!idle);
    status_->setVisible(!idle);
    cancelButton_->setVisible(!idle);
}

void BackupsPanel::showMessage(const QString& text, bool error) {
    message_ = text;
    messageLabel_->setText(text);
    messageLabel_->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
    messageLabel_->setVisible(!text.isEmpty());
}

void BackupsPanel::addNote(const QString& text) {
    logLine(context_, QStringLiteral("warning"), tr("%1: %2").arg(vm_, text));
    showMessage(message_.isEmpty() ? tr("Note: %1").arg(text)
                                   : message_ + QLatin1Char('\n') + tr("Note: %1").arg(text),
                false);
}

JobProgress* BackupsPanel::refusal(const QString& title, const QString& why) {
    showMessage(tr("%1: %2").arg(title, why), true);
    logLine(context_, QStringLiteral("warning"), message_);
    return nullptr;
}

QString BackupsPanel::messageText() const {
    return message_;
}

void BackupsPanel::cancel() {
    cancel_->store(true);
    if (job_)
        job_->requestCancel();
}

JobProgress* BackupsPanel::startJob(const QString& title, Work work,
                                    std::function<void(bool ok, const QString& message)> done) {
    JobRunner* runner = context_.jobs;
    if (!runner) {
        if (!ownRunner_)
            ownRunner_ = new JobRunner(this);
        runner = ownRunner_;
    }
    auto flag = std::make_shared<std::atomic<bool>>(false);
    cancel_ = flag;
    showMessage(tr("%1…").arg(title), false);
    logLine(context_, QStringLiteral("info"), title + QStringLiteral(" started"));
    JobProgress* job = runner->start(title, [work, flag](JobProgress& progress) -> QString {
        try {
            return work(progress, *flag);
        } catch (const std::exception&) {
            if (flag->load() || progress.cancelRequested())
                throw JobCancelled();
            throw;
        }
    });
    job_ = job;
    bar_->setValue(0);
    status_->setText(title);
    connect(job, &JobProgress::progressChanged, this, [this, job] {
        if (job != job_)
            return;
        bar_->setValue(int(job->fraction() * 1000));
        QString text = job->status().isEmpty() ? job->title() : job->status();
        if (auto eta = job->etaSeconds(); eta && job->fraction() > 0 && job->fraction() < 1)
            text += tr(" · %1 left").arg(JobProgress::formatEta(*eta));
        status_->setText(text);
    });
    connect(job, &JobProgress::finished, this,
            [this, job, title, done](bool ok, const QString& message) {
                if (job == job_)
                    job_ = nullptr;
                const bool cancelled = job->state() == JobProgress::State::Cancelled;
                // Notes that came during the job stay below the result.
                QString notes;
                for (const QString& line : message_.split(QLatin1Char('\n')))
                    if (line.startsWith(tr("Note: ")))
                        notes += QLatin1Char('\n') + line;
                if (ok) {
                    showMessage(message + notes, false);
                    logLine(context_, QStringLiteral("info"), message);
                } else if (cancelled) {
                    showMessage(tr("%1: cancelled; nothing was changed").arg(title) + notes, false);
                    logLine(context_, QStringLiteral("warning"), title + tr(": cancelled"));
                } else {
                    showMessage(tr("%1 failed: %2").arg(title, message) + notes, true);
                    logLine(context_, QStringLiteral("error"), tr("%1: %2").arg(title, message));
                }
                if (done)
                    done(ok, message);
                refreshPoints();
                updateForm();
                emit operationFinished(ok, message);
            });
    updateForm();
    return job;
}

JobProgress* BackupsPanel::backUpNow() {
    const QString title = tr("Back up %1").arg(vm_);
    if (busy())
        return refusal(title, tr("another backup operation is running"));
    const VmDefinition* def = definition();
    if (!def || diskIndex() < 0 || diskIndex() >= def->disks.size())
        return refusal(title, tr("select a VM with a disk"));
    // The folder is kept in the definition from the first backup on, so that it stays the
    // same whatever the suggestion becomes.
    if (def->backupDir.isEmpty() && !setBackupRoot(suggestedRoot()))
        return nullptr;
    def = definition();
    const int disk = diskIndex();
    const VmDisk d = def->disks[disk];
    const std::string dir = diskBackupDir(disk).toStdString();
    const std::string file = d.file.toStdString(), format = d.format.toStdString();
    const std::string label = "vm '" + vm_.toStdString() + "' disk" + std::to_string(disk);
    std::optional<unsigned> keep;
    if (def->backupKeep > 0)
        keep = unsigned(def->backupKeep);
    const std::string compression = def->backupCompression.toStdString();
    // A disk open in this process (always while the VM runs, and the GUI opens the selected
    // VM's disks) is read through its node: a point in time while the guest writes, and the
    // checkpoint bitmaps live in that one open image. Opening the file a second time would
    // make two writers of its qcow2 metadata.
    std::string nodeName;
    if (context_.nodes)
        if (auto node = context_.nodes->findByFile(file))
            nodeName = node->name;
    if (vmRunning_ && nodeName.empty())
        return refusal(title, tr("disk %1 of the running VM is not open in this window").arg(disk));
    if (!nodeName.empty() && (!context_.exports || !context_.pointInTime))
        return refusal(title, tr("this window has no point-in-time service for an open disk"));
    AppContext* ctx = &context_;
    QPointer<BackupsPanel> self(this);
    backup::NoteSink note = [self, ctx](const std::string& text) {
        QString line = q(text);
        QMetaObject::invokeMethod(
            qApp,
            [self, ctx, line] {
                if (self)
                    self->addNote(line);
                else
                    logLine(*ctx, QStringLiteral("warning"), line);
            },
            Qt::QueuedConnection);
    };
    const QString vm = vm_, root = backupRoot();
    return startJob(title, [=](JobProgress& progress, std::atomic<bool>& cancel) {
        std::unique_ptr<backup::BackupSource> source;
        if (!nodeName.empty())
            source = std::make_unique<backup::VmNodeSource>(*ctx->nodes, *ctx->exports,
                                                            *ctx->pointInTime, nodeName, label);
        else
            source = std::make_unique<backup::ImageFileSource>(file, format);
        // The disk's directory is created by the repository, the VM's folder above it here.
        if (!QDir().mkpath(root))
            throw std::runtime_error(root.toStdString() + ": cannot create the backup folder");
        backup::BackupRepository repo(dir, backup::BackupRepository::Access::Write);
        backup::BackupOptions o;
        o.incremental = !repo.points().empty();
        o.keep = keep;
        o.compression = compression;
        o.progress = progressOf(progress, cancel);
        o.note = note;
        o.cancel = &cancel;
        progress.setStatus(o.incremental ? tr("Taking an incremental point of %1").arg(q(label))
                                         : tr("Taking a full point of %1").arg(q(label)));
        backup::RestorePoint p = backup::takeBackup(repo, *source, o);
        return tr("%1 disk %2 backed up: %3").arg(vm).arg(disk).arg(pointSummary(p));
    });
}

JobProgress* BackupsPanel::verifyAll() {
    const QString title = tr("Verify the backups of %1").arg(vm_);
    if (busy())
        return refusal(title, tr("another backup operation is running"));
    if (model_.points().empty())
        return refusal(title, tr("there are no restore points yet"));
    const std::string dir = diskBackupDir(diskIndex()).toStdString();
    return startJob(title, [dir](JobProgress& progress, std::atomic<bool>& cancel) {
        backup::BackupRepository repo(dir, backup::BackupRepository::Access::Write);
        progress.setStatus(tr("Verifying %n point(s)", nullptr, int(repo.points().size())));
        backup::VerifyReport r =
            backup::verifyPoints(repo, std::nullopt, progressOf(progress, cancel), &cancel);
        if (r.ok())
            return tr("%n point(s) verified: all intact", nullptr, int(r.checked.size()));
        QString text = tr("%1 of %2 point(s) failed verification; restore from an intact point, "
                          "and take a new full backup:")
                           .arg(r.issues.size())
                           .arg(r.checked.size());
        for (const backup::VerifyIssue& i : r.issues)
            text += tr("\npoint %1: %2").arg(i.point).arg(q(i.problem));
        throw std::runtime_error(text.toStdString());
    });
}

std::optional<uint64_t> BackupsPanel::pointFor(std::optional<uint64_t> point) {
    if (point)
        return point;
    std::optional<uint64_t> p = chosenPoint();
    if (!p)
        refusal(tr("Restore"), tr("there are no restore points yet"));
    return p;
}

void BackupsPanel::chooseImageAndRestore() {
    std::optional<uint64_t> point = pointFor(std::nullopt);
    if (!point)
        return;
    QString rawFilter = tr("Raw image (*.raw *.img)"), qcowFilter = tr("qcow2 image (*.qcow2)");
    QString selected = rawFilter;
    QString suggested = QDir(dataDir_).filePath(
        QStringLiteral("%1-disk%2-point%3.raw").arg(vm_).arg(diskIndex()).arg(*point));
    QString path =
        QFileDialog::getSaveFileName(this, tr("Restore point %1 to").arg(*point), suggested,
                                     rawFilter + QStringLiteral(";;") + qcowFilter, &selected);
    if (path.isEmpty())
        return;
    QString format = selected == qcowFilter || path.endsWith(QLatin1String(".qcow2"))
                         ? QStringLiteral("qcow2")
                         : QStringLiteral("raw");
    restoreToImage(point, path, format);
}

JobProgress* BackupsPanel::restoreToImage(std::optional<uint64_t> point, const QString& path,
                                          const QString& format) {
    const QString title = tr("Restore to %1").arg(QFileInfo(path).fileName());
    if (busy())
        return refusal(title, tr("another backup operation is running"));
    point = pointFor(point);
    if (!point)
        return nullptr;
    if (format != QLatin1String("raw") && format != QLatin1String("qcow2"))
        return refusal(title, tr("unknown image format '%1' (raw or qcow2)").arg(format));
    // An image this window has open (a VM's disk) is not overwritten from here.
    if (context_.nodes && context_.nodes->findByFile(path.toStdString()))
        return refusal(title, tr("%1 is open (a VM's disk?); choose a new file, or restore onto "
                                 "the disk of the stopped VM")
                                  .arg(path));
    const std::string dir = diskBackupDir(diskIndex()).toStdString();
    const std::string out = path.toStdString(), fmt = format.toStdString();
    const uint64_t number = *point;
    return startJob(title, [=](JobProgress& progress, std::atomic<bool>& cancel) {
        backup::BackupRepository repo(dir, backup::BackupRepository::Access::Read);
        backup::RestoreOptions o;
        o.point = number;
        o.format = fmt;
        o.overwrite = true; // the file dialog asked
        o.progress = progressOf(progress, cancel);
        o.cancel = &cancel;
        progress.setStatus(tr("Restoring point %1").arg(number));
        backup::RestorePoint p = backup::restorePoint(repo, out, o);
        return tr("Point %1 (taken %2) restored to %3 (%4)")
            .arg(p.number)
            .arg(RestorePointTableModel::localTime(p.time), q(out), q(fmt));
    });
}

JobProgress* BackupsPanel::restoreAsNewVm(std::optional<uint64_t> point) {
    const QString title = tr("Restore as a new VM");
    if (busy())
        return refusal(title, tr("another backup operation is running"));
    const VmDefinition* def = definition();
    if (!def || diskIndex() < 0 || diskIndex() >= def->disks.size())
        return refusal(title, tr("select a VM with a disk"));
    point = pointFor(point);
    if (!point)
        return nullptr;
    const QString name =
        library_.uniqueName(tr("%1 restored %2").arg(def->name).arg(*point).left(kMaxNameLength));
    if (QString p = nameProblem(name); !p.isEmpty())
        return refusal(title, p);
    const QString format = def->disks[diskIndex()].format;
    const QString file = QDir(dataDir_).filePath(QStringLiteral("%1-disk0.%2").arg(name, format));
    if (QFileInfo::exists(file))
        return refusal(title, tr("%1 exists already; not overwriting it").arg(file));
    if (!QDir().mkpath(dataDir_))
        return refusal(title, tr("%1: cannot create the directory").arg(dataDir_));
    // The new VM: the same machine with the restored disk as its only disk.
    VmDefinition restored = *def;
    restored.name = name;
    restored.uuid = QUuid::createUuid();
    restored.disks = {VmDisk{file, format, false}};
    restored.backupDir.clear();
    const std::string dir = diskBackupDir(diskIndex()).toStdString();
    const uint64_t number = *point;
    return startJob(
        tr("Restore point %1 as VM '%2'").arg(number).arg(name),
        [dir, number, file, format, name](JobProgress& progress, std::atomic<bool>& cancel) {
            backup::BackupRepository repo(dir, backup::BackupRepository::Access::Read);
            backup::RestoreOptions o;
            o.point = number;
            o.format = format.toStdString();
            o.progress = progressOf(progress, cancel);
            o.cancel = &cancel;
            progress.setStatus(tr("Restoring point %1").arg(number));
            backup::RestorePoint p = backup::restorePoint(repo, file.toStdString(), o);
            return tr("Point %1 (taken %2) restored as the new VM '%3' (disk %4)")
                .arg(p.number)
                .arg(RestorePointTableModel::localTime(p.time), name, file);
        },
        [this, restored, file](bool ok, const QString&) {
            if (!ok)
                return;
            try {
                library_.add(restored);
            } catch (const std::exception& e) {
                QFile::remove(file);
                showMessage(tr("Cannot add the restored VM: %1").arg(q(e.what())), true);
                logLine(context_, QStringLiteral("error"), message_);
            }
        });
}

JobProgress* BackupsPanel::restoreOntoDisk(std::optional<uint64_t> point, bool confirmed) {
    const QString title = tr("Restore onto the disk of %1").arg(vm_);
    if (busy())
        return refusal(title, tr("another backup operation is running"));
    const VmDefinition* def = definition();
    if (!def || diskIndex() < 0 || diskIndex() >= def->disks.size())
        return refusal(title, tr("select a VM with a disk"));
    if (vmRunning_)
        return refusal(title, tr("%1 is running and writes to this disk: shut it down first "
                                 "(or restore to a new image or a new VM while it runs)")
                                  .arg(vm_));
    point = pointFor(point);
    if (!point)
        return nullptr;
    const int disk = diskIndex();
    const VmDisk d = def->disks[disk];
    if (d.readOnly)
        return refusal(title, tr("disk %1 is read-only in this VM").arg(disk));
    const backup::RestorePoint* chosen = nullptr;
    for (const backup::RestorePoint& p : model_.points())
        if (p.number == *point)
            chosen = &p;
    if (!confirmed) {
        QMessageBox ask(
            QMessageBox::Warning, title,
            tr("Replace disk %1 of %2 (%3) with restore point %4%5?\n\nWhat the disk "
               "holds now is lost; back it up first if you may need it.")
                .arg(disk)
                .arg(vm_, d.file)
                .arg(*point)
                .arg(chosen ? tr(", taken %1").arg(RestorePointTableModel::localTime(chosen->time))
                            : QString()),
            QMessageBox::Cancel, this);
        ask.setObjectName(QStringLiteral("restoreOntoDiskQuestion"));
        QPushButton* replace = ask.addButton(tr("Replace the disk"), QMessageBox::DestructiveRole);
        ask.setDefaultButton(QMessageBox::Cancel);
        ask.exec();
        if (ask.clickedButton() != replace) {
            showMessage(tr("Restore onto disk %1 cancelled; nothing was changed").arg(disk), false);
            return nullptr;
        }
    }
    // The disk's open image (the GUI opens the selected VM's disks) is closed first: the
    // restored file replaces it by a rename, and the VM must open the new file, not keep the
    // old one.
    bool wasOpen = false;
    if (context_.nodes) {
        if (auto node = context_.nodes->findByFile(d.file.toStdString())) {
            try {
                context_.nodes->remove(node->name);
                wasOpen = true;
            } catch (const std::exception& e) {
                return refusal(title, q(e.what()));
            }
        }
    }
    const std::string dir = diskBackupDir(disk).toStdString();
    const std::string out = d.file.toStdString(), fmt = d.format.toStdString();
    const uint64_t number = *point;
    const VmDefinition current = *def;
    const QString vm = vm_;
    JobProgress* job = startJob(
        title,
        [=](JobProgress& progress, std::atomic<bool>& cancel) {
            backup::BackupRepository repo(dir, backup::BackupRepository::Access::Read);
            backup::RestoreOptions o;
            o.point = number;
            o.format = fmt;
            o.overwrite = true; // the user confirmed
            o.progress = progressOf(progress, cancel);
            o.cancel = &cancel;
            progress.setStatus(tr("Restoring point %1 onto %2").arg(number).arg(q(out)));
            backup::RestorePoint p = backup::restorePoint(repo, out, o);
            return tr("Disk %1 of %2 restored to point %3 (taken %4)")
                .arg(disk)
                .arg(vm)
                .arg(p.number)
                .arg(RestorePointTableModel::localTime(p.time));
        },
        [this, current, vm, wasOpen](bool, const QString&) {
            // Open the (restored or untouched) disk again if it was open, as the window does
            // for the selected VM, so that the other tabs see it.
            if (!wasOpen || vm != vm_ || !context_.nodes)
                return;
            try {
                openVmDisks(*context_.nodes, current);
            } catch (const std::exception& e) {
                logLine(context_, QStringLiteral("warning"), q(e.what()));
            }
        });
    // Window-modal progress: the VM must not be started on the disk being replaced.
    auto* dialog = new JobProgressDialog(*job, this);
    dialog->setWindowModality(Qt::WindowModal);
    dialog->show();
    return job;
}

void BackupsPanel::chooseFolder() {
    QString dir =
        QFileDialog::getExistingDirectory(this, tr("Backup folder of %1").arg(vm_), backupRoot());
    if (!dir.isEmpty())
        setBackupRoot(dir);
}

} // namespace e2kvm::ui
