#include "ui/panels/CreateImageDialog.h"

#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "ui/panels/SizeText.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>

#include <stdexcept>

namespace e2kvm::ui {

namespace {
QWidget* withBrowse(QWidget* parent, QLineEdit* edit, std::function<QString()> choose) {
    auto* row = new QWidget(parent);
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    auto* browse = new QPushButton(QObject::tr("Browse…"), row);
    h->addWidget(edit, 1);
    h->addWidget(browse);
    QObject::connect(browse, &QPushButton::clicked, edit, [edit, choose] {
        QString f = choose();
        if (!f.isEmpty())
            edit->setText(f);
    });
    return row;
}
} // namespace

CreateImageDialog::CreateImageDialog(QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Create disk image"));
    file_ = new QLineEdit(this);
    format_ = new QComboBox(this);
    format_->addItems({QStringLiteral("qcow2"), QStringLiteral("raw")});
    size_ = new QLineEdit(QStringLiteral("10G"), this);
    size_->setToolTip(tr("Bytes, or with a binary suffix: 512M, 10G, 1T"));
    cluster_ = new QComboBox(this);
    for (uint64_t c = 4096; c <= (2u << 20); c *= 2)
        cluster_->addItem(sizeText(c), QVariant::fromValue<qulonglong>(c));
    cluster_->setCurrentIndex(cluster_->findData(QVariant::fromValue<qulonglong>(65536)));
    backing_ = new QLineEdit(this);
    backing_->setPlaceholderText(tr("none"));
    error_ = new QLabel(this);
    error_->setStyleSheet(QStringLiteral("color: #c02020"));
    error_->setWordWrap(true);

    auto* form = new QFormLayout;
    form->addRow(tr("File:"), withBrowse(this, file_, [this] {
                     return QFileDialog::getSaveFileName(this, tr("New image file"), folder_,
                                                         tr("Disk images (*.qcow2 *.raw *.img)"));
                 }));
    form->addRow(tr("Format:"), format_);
    form->addRow(tr("Virtual size:"), size_);
    form->addRow(tr("Cluster size:"), cluster_);
    form->addRow(tr("Backing file:"), withBrowse(this, backing_, [this] {
                     return QFileDialog::getOpenFileName(this, tr("Backing image"));
                 }));
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Create"));
    connect(buttons, &QDialogButtonBox::accepted, this, &CreateImageDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &CreateImageDialog::reject);
    connect(format_, &QComboBox::currentIndexChanged, this, &CreateImageDialog::formatChanged);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(error_);
    layout->addWidget(buttons);
    formatChanged();
}

void CreateImageDialog::setFolder(const QString& folder) {
    folder_ = folder;
    file_->setPlaceholderText(folder.isEmpty() ? QString()
                                               : tr("a name here is in %1").arg(folder));
}

void CreateImageDialog::formatChanged() {
    bool qcow2 = format_->currentText() == QLatin1String("qcow2");
    cluster_->setEnabled(qcow2);
    backing_->parentWidget()->setEnabled(qcow2); // the field and its Browse… button
    // A greyed field says why.
    cluster_->setToolTip(qcow2 ? QString() : tr("A raw image has no clusters"));
    backing_->setToolTip(qcow2 ? QString() : tr("A raw image cannot have a backing file"));
}

CreateImageRequest CreateImageDialog::request() const {
    CreateImageRequest r;
    r.file = file_->text().trimmed().toStdString();
    if (r.file.empty())
        throw std::runtime_error("Choose a file name for the new image");
    if (QDir::isRelativePath(file_->text().trimmed()) && !folder_.isEmpty())
        r.file = QDir(folder_).filePath(file_->text().trimmed()).toStdString();
    r.format = format_->currentText().toStdString();
    bool qcow2 = r.format == "qcow2";
    if (qcow2)
        r.backingFile = backing_->text().trimmed().toStdString();
    std::string sizeText = size_->text().trimmed().toStdString();
    if (sizeText.empty() && r.backingFile.empty())
        throw std::runtime_error("Enter the virtual size of the disk");
    try {
        r.size = sizeText.empty() ? 0 : block::parseSize(sizeText);
        if (qcow2)
            r.clusterSize = uint32_t(cluster_->currentData().toULongLong());
    } catch (const std::exception& e) {
        throw std::runtime_error("Invalid size '" + sizeText + "': " + e.what());
    }
    if (r.size == 0 && r.backingFile.empty())
        throw std::runtime_error("The virtual size must be larger than zero");
    return r;
}

void CreateImageDialog::accept() {
    try {
        (void)request();
    } catch (const std::exception& e) {
        error_->setText(QString::fromStdString(e.what()));
        return;
    }
    QDialog::accept();
}

} // namespace e2kvm::ui
