//! The item under the attribute: the registration is keyed by the `TypeId` of the function item,
//! so it must be a free function without generic parameters.

use syn::ItemFn;

/// Rejects the functions whose item type the generated registration cannot name.
pub(crate) fn check_handler(item_fn: &ItemFn) -> syn::Result<()> {
    if !item_fn.sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &item_fn.sig.generics,
            "limiter attributes cannot be put on generic functions; declare the limit in code \
             instead: `get(handler::<T>).limit(\"…\")`",
        ));
    }
    if let Some(receiver) = item_fn.sig.receiver() {
        return Err(syn::Error::new_spanned(
            receiver,
            "limiter attributes go on free functions; for methods, declare the limit in code: \
             `get(Self::method).limit(\"…\")`",
        ));
    }
    Ok(())
}
