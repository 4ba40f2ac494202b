"""Scripts the tests run in processes of their own (a JAX-only, a Keras-backend, a distributed and
an older-stack worker), and the older stack's installer, older_stack.sh."""
