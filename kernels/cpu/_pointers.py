"""Raw addresses as typed pointers inside Numba code: the generated loops' C entry points read their arrays this way.

Imported by generated kernel modules only (it imports Numba).
"""
from numba import types
from numba.extending import intrinsic


@intrinsic
def pointer_to(typingctx, address, example):
    """``address`` (an int64 or a ``void *``) as a pointer to values of ``example``'s type, for ``numba.carray``."""
    target = example

    def codegen(context, builder, signature, args):
        pointer_type = context.get_data_type(target).as_pointer()
        if isinstance(signature.args[0], types.RawPointer):
            return builder.bitcast(args[0], pointer_type)
        return builder.inttoptr(args[0], pointer_type)
    return types.CPointer(target)(address, example), codegen
