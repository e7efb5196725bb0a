"""The students' explorer: a Solara page that steps the Mesa model month by month.

Served by ``kamabm app`` (:mod:`kamabm.cli.app`); the page is :mod:`kamabm.app.page`,
its plain-language controls :mod:`kamabm.app.labels`.
"""
