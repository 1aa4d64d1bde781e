"""SQLAlchemy Core models of the Thoth knowledge-graph tables the metric set reads.

Names, column types and nullability match thoth-storages' schema at alembic head
``bf9ea2a38b01`` so the exporter runs unchanged against a production database. Only the tables
that metrics read (and the tables their foreign keys need) are modelled; foreign keys to tables
outside this set are left out, the columns themselves are kept. Core ``Table`` objects rather
than ORM classes: ``solved`` has no primary key in the real schema, and nothing here needs
object mapping.
"""

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

ALEMBIC_REVISION = "bf9ea2a38b01"

metadata = MetaData()

SOURCE_TYPES = ("CLI", "KEBECHET", "S2I", "GITHUB_APP", "JUPYTER_NOTEBOOK")
SOFTWARE_STACK_TYPES = ("USER", "INSPECTION", "ADVISED")
ENVIRONMENT_TYPES = ("RUNTIME", "BUILDTIME")
RECOMMENDATION_TYPES = ("LATEST", "PERFORMANCE", "SECURITY", "STABLE", "TESTING")

source_type = Enum(*SOURCE_TYPES, name="source_type")
software_stack_type = Enum(*SOFTWARE_STACK_TYPES, name="software_stack_type")
environment_type = Enum(*ENVIRONMENT_TYPES, name="environment_type")
recommendation_type = Enum(*RECOMMENDATION_TYPES, name="recommendation_type")
requirements_format = Enum("PIPENV", name="requirements_format")
inspection_sync_state = Enum("PENDING", "SYNCED", name="inspection_sync_state")


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True)


alembic_version = Table(
    "alembic_version",
    metadata,
    Column("version_num", String(32), primary_key=True),
)

python_package_index = Table(
    "python_package_index",
    metadata,
    _id(),
    Column("url", Text, nullable=False, unique=True),
    Column("warehouse_api_url", Text),
    Column("verify_ssl", Boolean, nullable=False),
    Column("enabled", Boolean),
    Column("only_if_package_seen", Boolean, nullable=False, server_default="true"),
)

python_package_version_entity = Table(
    "python_package_version_entity",
    metadata,
    _id(),
    Column("package_name", Text, nullable=False, index=True),
    Column("package_version", Text),
    Column(
        "python_package_index_id",
        Integer,
        ForeignKey("python_package_index.id", ondelete="CASCADE"),
    ),
    UniqueConstraint("package_name", "package_version", "python_package_index_id"),
)

python_package_version = Table(
    "python_package_version",
    metadata,
    _id(),
    Column("package_name", Text, nullable=False),
    Column("package_version", Text),
    Column("os_name", Text, nullable=False),
    Column("os_version", Text, nullable=False),
    Column("python_version", Text, nullable=False),
    Column(
        "entity_id",
        Integer,
        ForeignKey("python_package_version_entity.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "python_package_index_id",
        Integer,
        ForeignKey("python_package_index.id", ondelete="CASCADE"),
    ),
    Column("python_package_metadata_id", Integer),
    Column("is_missing", Boolean, nullable=False, server_default="false"),
    Column("provides_source_distro", Boolean, nullable=False, server_default="true"),
    Column("package_license", Integer),
    Column("package_license_warning", Boolean),
    UniqueConstraint(
        "package_name",
        "package_version",
        "python_package_index_id",
        "os_name",
        "os_version",
        "python_version",
    ),
    Index("python_package_version_environment_idx", "os_name", "os_version", "python_version"),
)

ecosystem_solver = Table(
    "ecosystem_solver",
    metadata,
    _id(),
    Column("ecosystem", Text, nullable=False),
    Column("solver_name", Text, nullable=False),
    Column("solver_version", Text, nullable=False),
    Column("os_name", Text, nullable=False),
    Column("os_version", Text, nullable=False),
    Column("python_version", Text, nullable=False),
    UniqueConstraint(
        "ecosystem", "solver_name", "solver_version", "os_name", "os_version", "python_version"
    ),
)

solved = Table(
    "solved",
    metadata,
    Column("datetime", DateTime, nullable=False),
    Column("document_id", Text, nullable=False, index=True),
    Column("duration", Integer),
    Column("error", Boolean, nullable=False),
    Column("error_unparseable", Boolean, nullable=False),
    Column("error_unsolvable", Boolean, nullable=False),
    Column("is_provided", Boolean),
    Column(
        "ecosystem_solver_id",
        Integer,
        ForeignKey("ecosystem_solver.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "version_id",
        Integer,
        ForeignKey("python_package_version.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

si_aggregated_run = Table(
    "si_aggregated_run",
    metadata,
    _id(),
    Column("si_aggregated_run_document_id", Text, nullable=False),
    *(
        Column(f"severity_{severity}_confidence_{confidence}", Integer, nullable=False)
        for severity in ("high", "low", "medium")
        for confidence in ("high", "low", "medium", "undefined")
    ),
    *(
        Column(name, Integer, nullable=False)
        for name in (
            "number_of_analyzed_files",
            "number_of_files_total",
            "number_of_files_with_severities",
            "number_of_filtered_files",
            "number_of_python_files",
            "number_of_lines_with_comments_in_python_files",
            "number_of_blank_lines_in_python_files",
            "number_of_lines_with_code_in_python_files",
            "total_number_of_files",
            "total_number_of_lines",
            "total_number_of_lines_with_comments",
            "total_number_of_blank_lines",
            "total_number_of_lines_with_code",
        )
    ),
    Column("datetime", DateTime, nullable=False),
    Column("error", Boolean, nullable=False, server_default="false"),
)

si_aggregated = Table(
    "si_aggregated",
    metadata,
    Column(
        "si_aggregated_run_id",
        Integer,
        ForeignKey("si_aggregated_run.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "python_package_version_entity_id",
        Integer,
        ForeignKey("python_package_version_entity.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "python_package_version_id",
        Integer,
        ForeignKey("python_package_version.id", ondelete="CASCADE"),
        nullable=False,
    ),
)


def _software_environment_columns() -> list[Column[Any]]:
    """Columns shared by the Thoth-built and the user-supplied (external) environment tables."""
    return [
        _id(),
        Column("environment_name", Text),
        Column("python_version", Text),
        Column("image_name", Text),
        Column("image_sha", Text),
        Column("os_name", Text),
        Column("os_version", Text),
        Column("cuda_version", Text),
        Column("environment_type", environment_type, nullable=False),
        Column("thoth_image_name", Text),
        Column("thoth_image_version", Text),
        Column("env_image_name", Text),
        Column("env_image_tag", Text),
    ]


software_environment = Table("software_environment", metadata, *_software_environment_columns())
external_software_environment = Table(
    "external_software_environment", metadata, *_software_environment_columns()
)

python_software_stack = Table(
    "python_software_stack",
    metadata,
    _id(),
    Column("software_stack_type", software_stack_type),
    Column("performance_score", Double),
    Column("overall_score", Double),
    Column("python_requirements_id", Integer),
    Column("python_requirements_lock_id", Integer),
)

adviser_run = Table(
    "adviser_run",
    metadata,
    _id(),
    Column("adviser_document_id", Text, nullable=False),
    Column("datetime", DateTime, nullable=False),
    Column("adviser_version", Text, nullable=False),
    Column("adviser_name", Text, nullable=False),
    Column("count", Integer),
    Column("limit", Integer),
    Column("origin", Text),
    Column("source_type", source_type),
    Column("is_s2i", Boolean),
    Column("debug", Boolean, nullable=False),
    Column("need_re_run", Boolean),
    Column("re_run_adviser_id", Text),
    Column("limit_latest_versions", Integer),
    Column("adviser_error", Boolean, nullable=False),
    Column("recommendation_type", recommendation_type, nullable=False),
    Column("requirements_format", requirements_format, nullable=False),
    Column("duration", Integer),
    Column("advised_configuration_changes", Boolean, nullable=False),
    Column("additional_stack_info", Boolean, nullable=False),
    Column("user_software_stack_id", Integer),
    Column(
        "external_run_software_environment_id",
        Integer,
        ForeignKey("external_software_environment.id", ondelete="CASCADE"),
    ),
    Column(
        "external_build_software_environment_id",
        Integer,
        ForeignKey("external_software_environment.id", ondelete="CASCADE"),
    ),
    Column("external_hardware_information_id", Integer),
)

KEBECHET_MANAGERS = (
    "info_manager",
    "pipfile_requirements_manager",
    "thoth_advise_manager",
    "thoth_provenance_manager",
    "update_manager",
    "version_manager",
)

kebechet_github_installations = Table(
    "kebechet_github_installations",
    metadata,
    _id(),
    Column("slug", Text, nullable=False),
    Column("repo_name", Text, nullable=False),
    Column("private", Boolean, nullable=False),
    Column("installation_id", Text, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("info_manager", Boolean, nullable=False, server_default="false"),
    Column("last_run", DateTime),
    *(
        Column(manager, Boolean, nullable=False, server_default="false")
        for manager in KEBECHET_MANAGERS[1:]
    ),
    Column(
        "advised_python_software_stack_id",
        Integer,
        ForeignKey("python_software_stack.id", ondelete="CASCADE"),
    ),
    Column("external_python_software_stack_id", Integer),
    Column(
        "external_software_environment_id",
        Integer,
        ForeignKey("external_software_environment.id", ondelete="CASCADE"),
    ),
    Column("runtime_environment_name", Text),
    UniqueConstraint("slug", "runtime_environment_name"),
)

cve = Table(
    "cve",
    metadata,
    _id(),
    Column("cve_id", Text, nullable=False, unique=True),
    Column("aggregated_at", DateTime),
    Column("details", Text, nullable=False),
    Column("link", Text),
)

cve_timestamp = Table(
    "cve_timestamp",
    metadata,
    _id(),
    Column("timestamp", DateTime, nullable=False),
)

inspection_run = Table(
    "inspection_run",
    metadata,
    _id(),
    Column("inspection_document_id", Text, nullable=False),
    Column("inspection_result_number", Integer, nullable=False),
    Column("datetime", DateTime),
    Column("amun_version", Text),
    Column("build_requests_cpu", Double),
    Column("build_requests_memory", Double),
    Column("run_requests_cpu", Double),
    Column("run_requests_memory", Double),
    Column("inspection_sync_state", inspection_sync_state, nullable=False),
    Column("build_hardware_information_id", Integer),
    Column("run_hardware_information_id", Integer),
    Column(
        "build_software_environment_id",
        Integer,
        ForeignKey("software_environment.id", ondelete="CASCADE"),
    ),
    Column(
        "run_software_environment_id",
        Integer,
        ForeignKey("software_environment.id", ondelete="CASCADE"),
    ),
    Column("dependency_monkey_run_id", Integer),
    Column(
        "inspection_software_stack_id",
        Integer,
        ForeignKey("python_software_stack.id", ondelete="CASCADE"),
    ),
)

package_extract_run = Table(
    "package_extract_run",
    metadata,
    _id(),
    Column("package_extract_name", Text, nullable=False),
    Column("package_extract_version", Text, nullable=False),
    Column("analysis_document_id", Text, nullable=False),
    Column("datetime", DateTime, nullable=False),
    Column("environment_type", environment_type, nullable=False),
    Column("origin", Text),
    Column("debug", Boolean, nullable=False),
    Column("package_extract_error", Boolean, nullable=False),
    Column("image_tag", Text, nullable=False),
    Column("duration", Integer),
    Column("os_name", Text, nullable=False),
    Column("os_id", Text, nullable=False),
    Column("os_version_id", Text, nullable=False),
    Column(
        "software_environment_id",
        Integer,
        ForeignKey("software_environment.id", ondelete="CASCADE"),
    ),
    Column(
        "external_software_environment_id",
        Integer,
        ForeignKey("external_software_environment.id", ondelete="CASCADE"),
    ),
    Column("image_size", BigInteger),
)


def _rusage_columns() -> list[Column[Any]]:
    """The columns every performance-indicator table starts with (PerformanceIndicatorBase)."""
    return [
        Column("component", String(256), nullable=False),
        Column("origin", String(256), nullable=False),
        Column("version", String(256), nullable=False),
        Column("overall_score", Double),
        Column("exit_code", Integer, nullable=False),
        Column("ru_utime", Double, nullable=False),
        Column("ru_stime", Double, nullable=False),
        *(
            Column(f"ru_{name}", Integer, nullable=False)
            for name in (
                "maxrss",
                "ixrss",
                "idrss",
                "isrss",
                "minflt",
                "majflt",
                "nswap",
                "inblock",
                "oublock",
                "msgsnd",
                "msgrcv",
                "nsignals",
                "nvcsw",
                "nivcsw",
            )
        ),
        _id(),
        Column("inspection_run_id", Integer, ForeignKey("inspection_run.id"), nullable=False),
    ]


def _ints(*names: str) -> list[Column[Any]]:
    return [Column(name, Integer, nullable=False) for name in names]


def _strings(*names: str) -> list[Column[Any]]:
    return [Column(name, String(256), nullable=False) for name in names]


def _doubles(*names: str) -> list[Column[Any]]:
    return [Column(name, Double, nullable=False) for name in names]


PYBENCH_TESTS = (
    "built_in_function_calls", "built_in_method_lookup", "compare_floats",
    "compare_floats_integers", "compare_integers", "compare_interned_strings", "compare_longs",
    "compare_strings", "compare_unicode", "concat_strings", "concat_unicode", "create_instances",
    "create_new_instances", "create_strings_with_concat", "create_unicode_with_concat",
    "dict_creation", "dict_with_float_keys", "dict_with_integer_keys", "dict_with_string_keys",
    "for_loops", "if_then_else", "list_slicing", "nested_for_loops", "normal_class_attribute",
    "normal_instance_attribute", "python_function_calls", "python_method_calls", "recursion",
    "second_import", "second_package_import", "second_submodule_import",
    "simple_complex_arithmetic", "simple_dict_manipulation", "simple_float_arithmetic",
    "simple_int_float_arithmetic", "simple_integer_arithmetic", "simple_list_manipulation",
    "simple_long_arithmetic", "small_lists", "small_tuples", "special_class_attribute",
    "special_instance_attribute", "string_mappings", "string_predicates", "string_slicing",
    "try_except", "try_raise_except", "tuple_slicing", "unicode_mappings", "unicode_predicates",
    "unicode_properties", "unicode_slicing", "totals",
)  # fmt: skip

pi_conv1d = Table(
    "pi_conv1d",
    metadata,
    *_rusage_columns(),
    *_strings("device", "dtype"),
    *_ints("reps"),
    *_strings("data_format"),
    *_ints(
        "batch",
        "input_width",
        "input_channels",
        "filter_width",
        "output_channels",
        "strides",
        "padding",
    ),
    *_doubles("elapsed", "rate"),
)
pi_conv2d = Table(
    "pi_conv2d",
    metadata,
    *_rusage_columns(),
    *_strings("device", "dtype"),
    *_ints("reps"),
    *_strings("data_format"),
    *_ints(
        "batch",
        "input_height",
        "input_width",
        "input_channels",
        "filter_height",
        "filter_width",
        "output_channels",
        "strides",
        "padding",
    ),
    *_doubles("elapsed", "rate"),
)
pi_matmul = Table(
    "pi_matmul",
    metadata,
    *_rusage_columns(),
    *_strings("device"),
    *_ints("matrix_size"),
    *_strings("dtype"),
    *_ints("reps"),
    *_doubles("elapsed", "rate"),
)
pi_pybench = Table(
    "pi_pybench",
    metadata,
    *_rusage_columns(),
    *_ints("rounds"),
    *_doubles(*(f"{test}_average" for test in PYBENCH_TESTS)),
)

PERFORMANCE_INDICATOR_TABLES = (pi_conv1d, pi_conv2d, pi_matmul, pi_pybench)

external_python_software_stack = Table(
    "external_python_software_stack",
    metadata,
    _id(),
    Column("external_python_requirements_id", Integer),
    Column("external_python_requirements_lock_id", Integer),
)

python_package_version_entity_rule = Table(
    "python_package_version_entity_rule",
    metadata,
    _id(),
    Column("package_name", Text, nullable=False),
    Column("version_range", Text),
    Column(
        "python_package_index_id",
        Integer,
        ForeignKey("python_package_index.id", ondelete="CASCADE"),
    ),
    Column("description", Text),
)

python_package_version_entity_rules_association = Table(
    "python_package_version_entity_rules_association",
    metadata,
    Column(
        "python_package_version_entity_id",
        Integer,
        ForeignKey("python_package_version_entity.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "python_package_version_entity_rule_id",
        Integer,
        ForeignKey("python_package_version_entity_rule.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)
