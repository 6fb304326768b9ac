"""Training: published recipes as YAML data, run on grouped k folds, with exact resume.

Modules: ``recipes`` (:class:`~signfer.training.recipes.Recipe`, ``Stage``, ``load_recipe``,
``list_recipes``), ``trainable`` (head only / all / progressive unfreezing by block), ``sam``
(Sharpness-Aware Minimisation), ``prepare`` (data, run folder, starting model), ``loop``
(``train``: one fold; ``train_fold``, ``fit``, ``train_step``), ``cv`` (``run_cv``: every fold,
then the summary). Command line: ``signfer train`` and ``signfer cv``.
"""
