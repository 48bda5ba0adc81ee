"""User->shop retrieval evaluation (DeepFashion2 protocol) and its HTML report.

Entry points: ``evaluation.job.evaluate_catalogue`` (``street2shop evaluate``, recipe
``street2shop-evaluate``) and ``evaluation.job.compare_parts``; ``evaluation.retrieval``
(``evaluate_retrieval``, ``EvaluationResult``); ``evaluation.report``. Ranks, top-k and MRR are
computed by ``street2shop.ranking``.
"""
