#include "ui/panels/ConvertImageDialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace e2kvm::ui {

ConvertImageDialog::ConvertImageDialog(const QString& sourceFile, QWidget* parent)
    : QDialog(parent), source_(QFileInfo(sourceFile).absoluteFilePath()) {
    setWindowTitle(tr("Convert %1").arg(QFileInfo(source_).fileName()));
    format_ = new QComboBox(this);
    format_->addItems({QStringLiteral("qcow2"), QStringLiteral("raw")});
    target_ = new QLineEdit(this);
    target_->setToolTip(tr("A name without a folder is in %1").arg(QFileInfo(source_).path()));
    suggested_ = suggestedTarget();
    target_->setText(suggested_);
    auto* browse = new QPushButton(tr("Browse…"), this);
    auto* targetRow = new QHBoxLayout;
    targetRow->addWidget(target_, 1);
    targetRow->addWidget(browse);
    problem_ = new QLabel(this);
    problem_->setObjectName(QStringLiteral("convertProblem"));
    problem_->setStyleSheet(QStringLiteral("color: #c02020"));
    problem_->setWordWrap(true);

    auto* form = new QFormLayout;
    form->addRow(tr("Source:"), new QLabel(QFileInfo(source_).fileName(), this));
    form->addRow(tr("Target format:"), format_);
    form->addRow(tr("Target file:"), targetRow);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    convert_ = buttons->button(QDialogButtonBox::Ok);
    convert_->setText(tr("Convert"));
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(problem_);
    layout->addWidget(buttons);

    connect(buttons, &QDialogButtonBox::accepted, this, &ConvertImageDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &ConvertImageDialog::reject);
    connect(format_, &QComboBox::currentIndexChanged, this, [this] {
        // The suggestion follows the format; a name the user gave stays.
        const bool suggested = target_->text() == suggested_;
        suggested_ = suggestedTarget();
        if (suggested)
            target_->setText(suggested_);
        update();
    });
    connect(target_, &QLineEdit::textChanged, this, &ConvertImageDialog::update);
    connect(browse, &QPushButton::clicked, this, [this] {
        QString f = QFileDialog::getSaveFileName(this, tr("Convert to"), target());
        if (!f.isEmpty())
            target_->setText(f);
    });
    update();
}

QString ConvertImageDialog::suggestedTarget() const {
    QFileInfo info(source_);
    return info.dir().filePath(info.completeBaseName() + QStringLiteral("-copy.") + format());
}

QString ConvertImageDialog::format() const {
    return format_->currentText();
}

QString ConvertImageDialog::target() const {
    const QString name = target_->text().trimmed();
    if (name.isEmpty())
        return {};
    return QFileInfo(QDir(QFileInfo(source_).path()), name).absoluteFilePath();
}

QString ConvertImageDialog::problem() const {
    const QString file = target();
    if (file.isEmpty())
        return tr("Enter the name of the new image");
    if (file == source_)
        return tr("The target is the source itself");
    if (QFileInfo::exists(file))
        return tr("%1 exists already; choose another name").arg(QFileInfo(file).fileName());
    return {};
}

void ConvertImageDialog::update() {
    const QString p = problem();
    problem_->setText(p);
    problem_->setVisible(!p.isEmpty());
    convert_->setEnabled(p.isEmpty());
    convert_->setToolTip(p);
    adjustSize();
}

void ConvertImageDialog::accept() {
    update();
    if (problem().isEmpty())
        QDialog::accept();
}

} // namespace e2kvm::ui
