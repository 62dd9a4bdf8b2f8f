from .aux_loss import AuxLossMixin, aux_loss_class, aux_loss_wrapper

__all__ = ['AuxLossMixin', 'aux_loss_class', 'aux_loss_wrapper']
