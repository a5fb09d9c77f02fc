from django.apps import AppConfig


class ScopeBenchConfig(AppConfig):
    name = "bench.scopebench"
    label = "scopebench"
    verbose_name = "Scope benchmark"

    def ready(self) -> None:
        from civicgrid.accounts.roles import grant

        # Like any app added later: the officials and grid workers may view records in their scope.
        for role in (
            "city_official",
            "district_official",
            "street_official",
            "community_official",
            "grid_worker",
        ):
            grant(role, "scopebench.view_benchrecord")
