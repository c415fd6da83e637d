#include "ui/wizard/NewVmWizard.h"

#include "block/BlockDriver.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "ui/library/ImageCopy.h"
#include "ui/library/VmDefinition.h"
#include "ui/library/VmLibrary.h"

#include <QComboBox>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QWizardPage>

#include <stdexcept>

namespace e2kvm::ui {

namespace {

// Gives a new qcow2 disk a persistent, recording bitmap, so that the Bitmaps tab shows what
// the guest changed from its first write on (backups keep their own checkpoint bitmaps).
void addTrackingBitmap(const std::string& file) {
    block::OpenOptions options;
    options.format = "qcow2";
    options.readOnly = false;
    std::unique_ptr<block::BlockDriver> disk = block::openImage(file, options);
    block::BitmapCatalog* bitmaps = disk->bitmaps();
    if (!bitmaps)
        throw std::runtime_error(file + ": the image keeps no bitmaps");
    block::BitmapAction add;
    add.kind = block::BitmapActionKind::Add;
    add.name = kTrackingBitmapName;
    add.persistent = true;
    bitmaps->apply(std::span(&add, 1));
    disk->flush();
}

class NamePage : public QWizardPage {
public:
    NamePage(VmLibrary& library, QLineEdit* name, QLabel* hint)
        : library_(library), name_(name), hint_(hint) {
        connect(name_, &QLineEdit::textChanged, this, [this] {
            hint_->setText(problem());
            hint_->setVisible(!hint_->text().isEmpty()); // no gap in the form while all is well
            emit completeChanged();
        });
    }
    QString problem() const {
        QString n = name_->text().trimmed();
        if (QString p = nameProblem(n); !p.isEmpty())
            return p;
        if (library_.contains(n))
            return QStringLiteral("a VM named '%1' exists already").arg(n);
        return {};
    }
    bool isComplete() const override { return problem().isEmpty(); }

private:
    VmLibrary& library_;
    QLineEdit* name_;
    QLabel* hint_;
};

} // namespace

// The disks page accepts image files dropped onto it.
class DisksPage : public QWizardPage {
public:
    explicit DisksPage(NewVmWizard& wizard) : wizard_(wizard) { setAcceptDrops(true); }

protected:
    void dragEnterEvent(QDragEnterEvent* event) override {
        if (event->mimeData()->hasUrls())
            event->acceptProposedAction();
    }
    void dropEvent(QDropEvent* event) override {
        for (const QUrl& url : event->mimeData()->urls())
            if (url.isLocalFile())
                wizard_.addExistingDisk(url.toLocalFile());
        event->acceptProposedAction();
    }

private:
    NewVmWizard& wizard_;
};

NewVmWizard::NewVmWizard(VmLibrary& library, QString dataDir, QString demoDisk, QWidget* parent)
    : QWizard(parent), library_(library), dataDir_(std::move(dataDir)),
      demoDisk_(std::move(demoDisk)) {
    setWindowTitle(tr("New VM"));

    // Page 1: name, memory, display.
    name_ = new QLineEdit(library_.uniqueName(QStringLiteral("VM")));
    name_->setMaxLength(kMaxNameLength);
    nameHint_ = new QLabel;
    nameHint_->setStyleSheet(QStringLiteral("color: #c02020")); // as the other forms' problems
    nameHint_->setVisible(false);
    auto* namePage = new NamePage(library_, name_, nameHint_);
    namePage->setTitle(tr("Name and hardware"));
    namePage->setSubTitle(tr("Name the VM and give it memory and a preferred display size; "
                             "both can be changed later in the Details tab."));
    memory_ = new QSpinBox;
    memory_->setRange(int(kMinMemoryMiB), int(kMaxMemoryMiB));
    memory_->setValue(256);
    memory_->setSuffix(tr(" MiB"));
    width_ = new QSpinBox;
    width_->setRange(1, 1920);
    width_->setValue(1024);
    height_ = new QSpinBox;
    height_->setRange(1, 1080);
    height_->setValue(768);
    const QString sizeHint = tr("Told to the guest, like a monitor's native resolution, and shown "
                                "until the guest sets its own mode (the demo guest always draws "
                                "1024×768).");
    width_->setToolTip(sizeHint);
    height_->setToolTip(sizeHint);
    auto* sizeRow = new QHBoxLayout;
    sizeRow->addWidget(width_);
    sizeRow->addWidget(new QLabel(QStringLiteral("×")));
    sizeRow->addWidget(height_);
    sizeRow->addStretch();
    auto* nameForm = new QFormLayout(namePage);
    nameForm->addRow(tr("Name:"), name_);
    nameForm->addRow(QString(), nameHint_);
    nameForm->addRow(tr("Memory:"), memory_);
    nameForm->addRow(tr("Preferred display size:"), sizeRow);
    addPage(namePage);

    // Page 2: disks.
    auto* disksPage = new DisksPage(*this);
    disksPage->setTitle(tr("Disks"));
    disksPage->setSubTitle(tr("Create new images, copy the demo disk, or add existing images "
                              "(also by dropping files here). Disk 0 is the boot disk."));
    diskTable_ = new QTableWidget(0, 3);
    diskTable_->setHorizontalHeaderLabels({tr("Disk"), tr("Format"), tr("Size / mode")});
    // A long path is shortened in its middle (file name and start stay), the full one in
    // its tooltip; the other columns are as wide as their contents.
    diskTable_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    diskTable_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    diskTable_->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
    diskTable_->setWordWrap(false);
    diskTable_->setTextElideMode(Qt::ElideMiddle);
    diskTable_->verticalHeader()->setVisible(false);
    diskTable_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    diskTable_->setSelectionBehavior(QAbstractItemView::SelectRows);
    auto* newQcow2 = new QPushButton(tr("New qcow2…"));
    auto* newRaw = new QPushButton(tr("New raw…"));
    auto* demo = new QPushButton(tr("Copy of demo disk"));
    demo->setEnabled(!demoDisk_.isEmpty());
    demo->setToolTip(demoDisk_.isEmpty() ? tr("No demo disk was found next to the program")
                                         : tr("A qcow2 copy of the demo guest's disk"));
    auto* existing = new QPushButton(tr("Existing…"));
    auto* remove = new QPushButton(tr("Remove"));
    auto* buttons = new QHBoxLayout;
    for (QPushButton* b : {newQcow2, newRaw, demo, existing, remove})
        buttons->addWidget(b);
    auto* disksBox = new QVBoxLayout(disksPage);
    disksBox->addWidget(diskTable_);
    disksBox->addLayout(buttons);
    auto askNew = [this](const QString& format) {
        bool ok = false;
        QString text = QInputDialog::getText(this, tr("New %1 image").arg(format),
                                             tr("Virtual size (e.g. 1G, 512M):"), QLineEdit::Normal,
                                             QStringLiteral("1G"), &ok);
        if (!ok)
            return;
        try {
            addNewDisk(format, block::parseSize(text.toStdString()));
        } catch (const std::exception& e) {
            QMessageBox::warning(
                this, tr("Size"),
                tr("'%1' is not a size: %2").arg(text, QString::fromStdString(e.what())));
        }
    };
    connect(newQcow2, &QPushButton::clicked, this, [askNew] { askNew(QStringLiteral("qcow2")); });
    connect(newRaw, &QPushButton::clicked, this, [askNew] { askNew(QStringLiteral("raw")); });
    connect(demo, &QPushButton::clicked, this, [this] { addDemoDiskCopy(); });
    connect(existing, &QPushButton::clicked, this, [this] {
        const QStringList files =
            QFileDialog::getOpenFileNames(this, tr("Existing images"), {},
                                          tr("Disk images (*.qcow2 *.raw *.img);;All files (*)"));
        for (const QString& f : files)
            addExistingDisk(f);
    });
    connect(remove, &QPushButton::clicked, this, [this] {
        int row = diskTable_->currentRow();
        if (row >= 0 && row < disks_.size()) {
            disks_.removeAt(row);
            refreshDiskTable();
        }
    });
    addPage(disksPage);

    // Page 3: boot program.
    auto* bootPage = new QWizardPage;
    bootPage->setTitle(tr("Boot program"));
    bootPage->setSubTitle(tr("What the VM runs when it starts: the demo guest from disk 0, or a "
                             "ROM image or kernel of your own."));
    boot_ = new QComboBox;
    boot_->addItem(tr("Demo guest (boot ROM, program on disk 0)"), int(BootKind::Demo));
    boot_->addItem(tr("ROM image"), int(BootKind::Rom));
    boot_->addItem(tr("Kernel ELF"), int(BootKind::Kernel));
    bootPath_ = new QLineEdit;
    auto* browse = new QPushButton(tr("Browse…"));
    auto updateBootPath = [this, browse] {
        bool path = BootKind(boot_->currentData().toInt()) != BootKind::Demo;
        bootPath_->setEnabled(path);
        browse->setEnabled(path);
        const QString why = path ? QString() : tr("The demo guest boots from disk 0: no file");
        bootPath_->setToolTip(why);
        browse->setToolTip(why);
    };
    connect(boot_, &QComboBox::currentIndexChanged, this, updateBootPath);
    updateBootPath();
    connect(browse, &QPushButton::clicked, this, [this] {
        QString f = QFileDialog::getOpenFileName(this, tr("Boot program"));
        if (!f.isEmpty())
            bootPath_->setText(f);
    });
    auto* bootForm = new QFormLayout(bootPage);
    bootForm->addRow(tr("Boot:"), boot_);
    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(bootPath_, 1);
    pathRow->addWidget(browse);
    bootForm->addRow(tr("File:"), pathRow);
    addPage(bootPage);

    if (!demoDisk_.isEmpty())
        addDemoDiskCopy();
    else
        addNewDisk(QStringLiteral("qcow2"), 1ull << 30);
}

void NewVmWizard::setVmName(const QString& name) {
    name_->setText(name);
}
void NewVmWizard::setMemoryMiB(int mib) {
    memory_->setValue(mib);
}
void NewVmWizard::setDisplaySize(QSize size) {
    width_->setValue(size.width());
    height_->setValue(size.height());
}

void NewVmWizard::clearDisks() {
    disks_.clear();
    refreshDiskTable();
}

void NewVmWizard::addNewDisk(const QString& format, uint64_t sizeBytes) {
    if (disks_.size() >= kMaxDisks)
        return;
    disks_.append(PlannedDisk{PlannedDisk::NewImage, {}, format, sizeBytes, false});
    refreshDiskTable();
}

void NewVmWizard::addDemoDiskCopy() {
    if (demoDisk_.isEmpty() || disks_.size() >= kMaxDisks)
        return;
    disks_.append(PlannedDisk{PlannedDisk::DemoCopy, demoDisk_, QStringLiteral("qcow2"), 0, false});
    refreshDiskTable();
}

void NewVmWizard::addExistingDisk(const QString& file, bool readOnly) {
    if (disks_.size() >= kMaxDisks)
        return;
    QString format = QStringLiteral("raw");
    try {
        format = QString::fromStdString(block::probeFormat(file.toStdString()));
    } catch (const std::exception&) {
        // Not readable now: accept()/starting the VM reports it with the file name.
    }
    disks_.append(PlannedDisk{PlannedDisk::Existing, QFileInfo(file).absoluteFilePath(), format, 0,
                              readOnly});
    refreshDiskTable();
}

void NewVmWizard::setBootProgram(int kind, const QString& path) {
    boot_->setCurrentIndex(boot_->findData(kind));
    bootPath_->setText(path);
}

void NewVmWizard::refreshDiskTable() {
    diskTable_->setRowCount(0);
    for (const PlannedDisk& d : disks_) {
        int row = diskTable_->rowCount();
        diskTable_->insertRow(row);
        QString what, mode;
        switch (d.kind) {
        case PlannedDisk::NewImage:
            what = tr("new image");
            mode = QStringLiteral("%1 MiB").arg(d.sizeBytes >> 20);
            break;
        case PlannedDisk::DemoCopy:
            what = tr("copy of the demo disk");
            mode = tr("copy");
            break;
        case PlannedDisk::Existing:
            what = d.file;
            mode = d.readOnly ? tr("read-only") : tr("read-write");
            break;
        }
        auto* item = new QTableWidgetItem(what);
        item->setToolTip(what);
        diskTable_->setItem(row, 0, item);
        diskTable_->setItem(row, 1, new QTableWidgetItem(d.format));
        diskTable_->setItem(row, 2, new QTableWidgetItem(mode));
    }
}

QString NewVmWizard::diskFileFor(int index, const QString& format) const {
    return QDir(dataDir_).filePath(
        QStringLiteral("%1-disk%2.%3").arg(name_->text().trimmed()).arg(index).arg(format));
}

void NewVmWizard::accept() {
    error_.clear();
    VmDefinition def;
    def.name = name_->text().trimmed();
    def.uuid = QUuid::createUuid();
    def.memoryMiB = uint32_t(memory_->value());
    def.display = QSize(width_->value(), height_->value());
    def.boot = BootKind(boot_->currentData().toInt());
    def.bootPath = def.boot == BootKind::Demo ? QString() : bootPath_->text();
    for (int i = 0; i < disks_.size(); ++i) {
        const PlannedDisk& p = disks_[i];
        QString file = p.kind == PlannedDisk::Existing ? p.file : diskFileFor(i, p.format);
        def.disks.append(VmDisk{file, p.format, p.readOnly});
    }
    QStringList created;
    try {
        if (library_.contains(def.name))
            throw std::runtime_error(
                QStringLiteral("a VM named '%1' exists already").arg(def.name).toStdString());
        if (QString p = definitionProblem(def); !p.isEmpty())
            throw std::runtime_error(p.toStdString());
        if (!QDir().mkpath(dataDir_))
            throw std::runtime_error(dataDir_.toStdString() + ": cannot create the directory");
        for (int i = 0; i < disks_.size(); ++i) {
            const PlannedDisk& p = disks_[i];
            std::string file = def.disks[i].file.toStdString();
            if (p.kind != PlannedDisk::Existing && QFileInfo::exists(def.disks[i].file))
                throw std::runtime_error(file + ": exists already; not overwriting it");
            if (p.kind == PlannedDisk::NewImage) {
                block::CreateOptions options;
                options.format = p.format.toStdString();
                options.size = p.sizeBytes;
                options.sizeGiven = true;
                block::createImage(file, options);
                created << def.disks[i].file;
                if (p.format == QLatin1String("qcow2"))
                    addTrackingBitmap(file);
            } else if (p.kind == PlannedDisk::DemoCopy) {
                copyImage(p.file.toStdString(), file, p.format.toStdString());
                created << def.disks[i].file;
                if (p.format == QLatin1String("qcow2"))
                    addTrackingBitmap(file);
            }
        }
        library_.add(def);
    } catch (const std::exception& e) {
        for (const QString& f : created)
            QFile::remove(f);
        error_ = QString::fromStdString(e.what());
        if (isVisible())
            QMessageBox::warning(this, tr("Cannot create the VM"), error_);
        return;
    }
    created_ = def.name;
    QWizard::accept();
}

} // namespace e2kvm::ui
