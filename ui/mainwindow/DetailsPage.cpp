#include "ui/mainwindow/DetailsPage.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

namespace e2kvm::ui {

DetailsPage::DetailsPage(QWidget* parent) : QWidget(parent) {
    auto* form = new QFormLayout;
    name_ = new QLineEdit;
    name_->setMaxLength(kMaxNameLength);
    form->addRow(tr("Name:"), name_);
    memory_ = new QSpinBox;
    memory_->setRange(int(kMinMemoryMiB), int(kMaxMemoryMiB));
    memory_->setSuffix(tr(" MiB"));
    memory_->setSingleStep(64);
    form->addRow(tr("Memory:"), memory_);

    disks_ = new QTableWidget(0, 3);
    disks_->setHorizontalHeaderLabels({tr("File"), tr("Format"), tr("Read-only")});
    // A long path is shortened in its middle, the whole one in its tooltip.
    disks_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    disks_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    disks_->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
    disks_->setWordWrap(false);
    disks_->setTextElideMode(Qt::ElideMiddle);
    disks_->verticalHeader()->setVisible(false);
    disks_->setSelectionBehavior(QAbstractItemView::SelectRows);
    addDisk_ = new QPushButton(tr("Add existing image…"));
    removeDisk_ = new QPushButton(tr("Remove"));
    auto* diskButtons = new QHBoxLayout;
    diskButtons->addWidget(addDisk_);
    diskButtons->addWidget(removeDisk_);
    diskButtons->addStretch();
    auto* diskBox = new QVBoxLayout;
    diskBox->addWidget(disks_);
    diskBox->addLayout(diskButtons);
    form->addRow(tr("Disks:"), diskBox);

    boot_ = new QComboBox;
    boot_->addItem(tr("Demo guest (boot ROM, program on disk 0)"), int(BootKind::Demo));
    boot_->addItem(tr("ROM image"), int(BootKind::Rom));
    boot_->addItem(tr("Kernel ELF"), int(BootKind::Kernel));
    bootPath_ = new QLineEdit;
    browseBoot_ = new QPushButton(tr("Browse…"));
    auto* bootRow = new QHBoxLayout;
    bootRow->addWidget(boot_);
    bootRow->addWidget(bootPath_, 1);
    bootRow->addWidget(browseBoot_);
    form->addRow(tr("Boot program:"), bootRow);

    width_ = new QSpinBox;
    width_->setRange(1, 1920);
    height_ = new QSpinBox;
    height_->setRange(1, 1080);
    sizeHint_ = tr("Told to the guest, like a monitor's native resolution, and shown until the "
                   "guest sets its own mode (the demo guest always draws 1024×768). Takes effect "
                   "at the next start.");
    width_->setToolTip(sizeHint_);
    height_->setToolTip(sizeHint_);
    auto* sizeRow = new QHBoxLayout;
    sizeRow->addWidget(width_);
    sizeRow->addWidget(height_);
    sizeRow->addStretch();
    form->addRow(tr("Preferred display size:"), sizeRow);

    apply_ = new QPushButton(tr("Apply"));
    revert_ = new QPushButton(tr("Revert"));
    result_ = new QLabel;
    result_->setObjectName(QStringLiteral("detailsResult"));
    result_->setWordWrap(true);
    result_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(result_, 1);
    buttons->addWidget(revert_);
    buttons->addWidget(apply_);

    // Above the greyed form while the VM runs: why nothing can be edited.
    locked_ = new QLabel(notEditableText() + tr(" (the settings are read when it starts)."));
    locked_->setObjectName(QStringLiteral("detailsLocked"));
    locked_->setWordWrap(true);
    locked_->setStyleSheet(QStringLiteral("font-weight: bold"));
    locked_->hide();

    auto* top = new QVBoxLayout(this);
    top->addWidget(locked_);
    top->addLayout(form);
    top->addStretch();
    top->addLayout(buttons);

    connect(addDisk_, &QPushButton::clicked, this, [this] {
        const QStringList files =
            QFileDialog::getOpenFileNames(this, tr("Add disk images"), {},
                                          tr("Disk images (*.qcow2 *.raw *.img);;All files (*)"));
        for (const QString& f : files)
            addDiskRow(VmDisk{f,
                              f.endsWith(QLatin1String(".qcow2")) ? QStringLiteral("qcow2")
                                                                  : QStringLiteral("raw"),
                              false});
    });
    connect(removeDisk_, &QPushButton::clicked, this, [this] {
        int row = disks_->currentRow();
        if (row >= 0)
            disks_->removeRow(row);
    });
    connect(browseBoot_, &QPushButton::clicked, this, [this] {
        QString f = QFileDialog::getOpenFileName(this, tr("Boot program"));
        if (!f.isEmpty())
            bootPath_->setText(f);
    });
    connect(boot_, &QComboBox::currentIndexChanged, this, [this] {
        updateBootPath();
        updateButtons();
    });
    connect(name_, &QLineEdit::textChanged, this, &DetailsPage::updateButtons);
    connect(bootPath_, &QLineEdit::textChanged, this, &DetailsPage::updateButtons);
    for (QSpinBox* spin : {memory_, width_, height_})
        connect(spin, &QSpinBox::valueChanged, this, &DetailsPage::updateButtons);
    connect(disks_, &QTableWidget::itemChanged, this, &DetailsPage::updateButtons);
    connect(disks_->model(), &QAbstractItemModel::rowsRemoved, this, &DetailsPage::updateButtons);
    connect(disks_->model(), &QAbstractItemModel::rowsInserted, this, &DetailsPage::updateButtons);
    connect(apply_, &QPushButton::clicked, this, [this] { emit applyRequested(definition()); });
    connect(revert_, &QPushButton::clicked, this, [this] { setDefinition(original_); });
}

void DetailsPage::addDiskRow(const VmDisk& disk) {
    int row = disks_->rowCount();
    disks_->insertRow(row);
    auto* file = new QTableWidgetItem(disk.file);
    file->setToolTip(disk.file);
    disks_->setItem(row, 0, file);
    auto* format = new QComboBox;
    format->addItems({QStringLiteral("qcow2"), QStringLiteral("raw")});
    format->setCurrentText(disk.format);
    format->setEnabled(editable_);
    format->setToolTip(editable_ ? QString() : notEditableText());
    disks_->setCellWidget(row, 1, format);
    auto* ro = new QCheckBox;
    ro->setChecked(disk.readOnly);
    ro->setEnabled(editable_);
    ro->setToolTip(editable_ ? QString() : notEditableText());
    disks_->setCellWidget(row, 2, ro);
    connect(format, &QComboBox::currentIndexChanged, this, &DetailsPage::updateButtons);
    connect(ro, &QCheckBox::toggled, this, &DetailsPage::updateButtons);
    updateButtons();
}

void DetailsPage::setDefinition(const VmDefinition& def) {
    original_ = def;
    name_->setText(def.name);
    memory_->setValue(int(def.memoryMiB));
    disks_->setRowCount(0);
    for (const VmDisk& d : def.disks)
        addDiskRow(d);
    boot_->setCurrentIndex(boot_->findData(int(def.boot)));
    bootPath_->setText(def.bootPath);
    width_->setValue(def.display.width());
    height_->setValue(def.display.height());
    updateBootPath();
    shown_ = definition();
    if (result_->property("vm").toString() != def.name)
        result_->clear(); // another VM: the last outcome was about the one shown before
    result_->setProperty("vm", def.name);
    updateButtons();
}

bool DetailsPage::modified() const {
    return definition() != shown_;
}

void DetailsPage::updateButtons() {
    const bool changed = editable_ && modified();
    apply_->setEnabled(changed);
    revert_->setEnabled(changed);
    const QString why = editable_ ? tr("Nothing changed yet") : notEditableText();
    apply_->setToolTip(changed ? tr("Save the changes (they take effect at the next start)") : why);
    revert_->setToolTip(changed ? tr("Show the VM's saved settings again") : why);
}

void DetailsPage::showResult(const QString& text, bool error) {
    result_->setStyleSheet(error ? QStringLiteral("color: #c02020") : QString());
    result_->setText(text);
}

QString DetailsPage::resultText() const {
    return result_->text();
}

VmDefinition DetailsPage::definition() const {
    VmDefinition def = original_;
    def.name = name_->text().trimmed();
    def.memoryMiB = uint32_t(memory_->value());
    def.disks.clear();
    for (int row = 0; row < disks_->rowCount(); ++row) {
        VmDisk d;
        d.file = disks_->item(row, 0) ? disks_->item(row, 0)->text() : QString();
        if (auto* f = qobject_cast<QComboBox*>(disks_->cellWidget(row, 1)))
            d.format = f->currentText();
        if (auto* ro = qobject_cast<QCheckBox*>(disks_->cellWidget(row, 2)))
            d.readOnly = ro->isChecked();
        def.disks.append(d);
    }
    def.boot = BootKind(boot_->currentData().toInt());
    def.bootPath = def.boot == BootKind::Demo ? QString() : bootPath_->text();
    def.display = QSize(width_->value(), height_->value());
    return def;
}

void DetailsPage::setEditable(bool editable) {
    editable_ = editable;
    locked_->setVisible(!editable);
    for (QWidget* w : std::initializer_list<QWidget*>{name_, memory_, addDisk_, removeDisk_, boot_,
                                                      width_, height_})
        w->setEnabled(editable);
    // A greyed field says why it is greyed.
    const QString why = editable ? QString() : notEditableText();
    for (QWidget* w :
         std::initializer_list<QWidget*>{name_, memory_, addDisk_, removeDisk_, boot_, disks_})
        w->setToolTip(why);
    for (QSpinBox* w : {width_, height_})
        w->setToolTip(editable ? sizeHint_ : why + QStringLiteral("\n") + sizeHint_);
    disks_->setEditTriggers(editable ? QAbstractItemView::DoubleClicked |
                                           QAbstractItemView::EditKeyPressed
                                     : QAbstractItemView::NoEditTriggers);
    for (int row = 0; row < disks_->rowCount(); ++row)
        for (int col = 1; col < 3; ++col)
            if (QWidget* w = disks_->cellWidget(row, col)) {
                w->setEnabled(editable);
                w->setToolTip(why);
            }
    updateBootPath();
    updateButtons();
}

void DetailsPage::updateBootPath() {
    bool needsPath = BootKind(boot_->currentData().toInt()) != BootKind::Demo;
    bootPath_->setEnabled(editable_ && needsPath);
    browseBoot_->setEnabled(editable_ && needsPath);
    const QString why = !editable_   ? notEditableText()
                        : !needsPath ? tr("The demo guest boots from disk 0: no file")
                                     : QString();
    bootPath_->setToolTip(why);
    browseBoot_->setToolTip(why);
}

QString DetailsPage::lockedText() const {
    return locked_->isHidden() ? QString() : locked_->text();
}

QString DetailsPage::notEditableText() const {
    return tr("Shut the VM down to edit it");
}

} // namespace e2kvm::ui
