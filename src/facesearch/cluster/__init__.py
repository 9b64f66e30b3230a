"""A deployment over many machines (issue 15): which cameras must be watched, which worker watches each, and
(with the ``cluster`` extra) the Ray actors that do it. Single-machine facesearch needs none of it."""
