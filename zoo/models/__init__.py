"""Model families of the zoo: each module holds its nn.Module classes and a ``MODELS`` dict of builders."""
