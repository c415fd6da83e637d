#include "ui/panels/BitmapNameDialog.h"

#include "ui/panels/SizeText.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace e2kvm::ui {

BitmapNameDialog::BitmapNameDialog(const QString& title, const QString& prompt, const QString& name,
                                   const QStringList& existing, uint64_t defaultGranularity,
                                   QWidget* parent)
    : QDialog(parent), existing_(existing) {
    setWindowTitle(title);
    name_ = new QLineEdit(name, this);
    granularity_ = new QComboBox(this);
    granularity_->addItem(defaultGranularity
                              ? tr("image default (%1)").arg(sizeText(defaultGranularity))
                              : tr("image default"),
                          QVariant::fromValue<qulonglong>(0));
    for (uint64_t g = 4096; g <= (4u << 20); g *= 4)
        granularity_->addItem(sizeText(g), QVariant::fromValue<qulonglong>(g));
    granularity_->setToolTip(tr("How many bytes of the disk one bit of the bitmap stands for"));
    problem_ = new QLabel(this);
    problem_->setStyleSheet(QStringLiteral("color: #c02020"));
    problem_->setWordWrap(true);

    auto* intro = new QLabel(prompt, this);
    intro->setWordWrap(true);
    auto* form = new QFormLayout;
    form->addRow(tr("Name:"), name_);
    form->addRow(tr("Granularity:"), granularity_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    create_ = buttons->button(QDialogButtonBox::Ok);
    create_->setText(tr("Create"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(name_, &QLineEdit::textChanged, this, &BitmapNameDialog::validate);
    name_->setMinimumWidth(280);
    auto* layout = new QVBoxLayout(this);
    // The dialog follows its contents (the problem line comes and goes) rather than squeeze them.
    layout->setSizeConstraint(QLayout::SetFixedSize);
    layout->addWidget(intro);
    layout->addLayout(form);
    layout->addWidget(problem_);
    layout->addWidget(buttons);
    validate();
}

QString BitmapNameDialog::name() const {
    return name_->text().trimmed();
}

uint64_t BitmapNameDialog::granularity() const {
    return granularity_->currentData().toULongLong();
}

QString BitmapNameDialog::problem() const {
    const QString n = name();
    if (n.isEmpty())
        return tr("Enter a name for the bitmap");
    if (existing_.contains(n))
        return tr("The image has a bitmap named '%1' already").arg(n);
    if (n.toUtf8().size() > 1023)
        return tr("The name is longer than 1023 bytes");
    return {};
}

void BitmapNameDialog::validate() {
    const QString why = problem();
    problem_->setText(why);
    problem_->setVisible(!why.isEmpty() && !name_->text().isEmpty());
    create_->setEnabled(why.isEmpty());
}

} // namespace e2kvm::ui
