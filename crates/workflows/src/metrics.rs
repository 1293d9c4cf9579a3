//! Prometheus metrics of workflow runs, registered into the app's registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    workflow: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActivityLabels {
    activity: String,
    outcome: &'static str,
}

fn activity_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
    ])
}

/// Runs started and ended, activity latency, queue depth.
#[derive(Clone)]
pub struct WorkflowMetrics {
    runs: Family<RunLabels, Counter>,
    activities: Family<ActivityLabels, Histogram, fn() -> Histogram>,
    queue_depth: Gauge,
}

impl Default for WorkflowMetrics {
    fn default() -> Self {
        Self {
            runs: Family::default(),
            activities: Family::new_with_constructor(activity_histogram),
            queue_depth: Gauge::default(),
        }
    }
}

impl WorkflowMetrics {
    /// Adds the metrics to a registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "workflow_runs",
            "Workflow runs by type and outcome (started, succeeded, failed, cancelled)",
            self.runs.clone(),
        );
        registry.register(
            "workflow_activity_duration_seconds",
            "Activity attempt latency by activity and outcome",
            self.activities.clone(),
        );
        registry.register(
            "workflow_queue_depth",
            "Runs due and waiting for a worker",
            self.queue_depth.clone(),
        );
    }

    /// Counts a run event (`started`, `succeeded`, `failed`, `cancelled`).
    pub fn run(&self, workflow: &str, outcome: &'static str) {
        self.runs
            .get_or_create(&RunLabels {
                workflow: workflow.to_string(),
                outcome,
            })
            .inc();
    }

    /// Records an activity attempt's latency.
    pub fn activity(&self, activity: &str, outcome: &'static str, seconds: f64) {
        self.activities
            .get_or_create(&ActivityLabels {
                activity: activity.to_string(),
                outcome,
            })
            .observe(seconds);
    }

    /// Sets the queue depth.
    pub fn queue_depth(&self, depth: i64) {
        self.queue_depth.set(depth);
    }
}
