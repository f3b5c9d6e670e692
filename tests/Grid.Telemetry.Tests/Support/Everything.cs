namespace Grid.Telemetry.Tests.Support;

/// <summary>Calls every recording method of <see cref="GridMetrics"/> once, so every instrument has a series.</summary>
public static class Everything
{
    public static void Record(GridMetrics metrics, string run)
    {
        metrics.RunPlanned(run, totalSteps: 10);
        metrics.RecordStep(run, Steps.Report(step: 0, beta: 0.01) with
        {
            UpdateSkipped = true,
            ValidationStart = Steps.Validation(policyVersion: 0, counting: 0.2, geometry: 0.3),
            SecondsValidation = 0.4,
        });
        metrics.RolloutFinished(run, RolloutOutcome.Ok, tokens: 20);
        metrics.RolloutFinished(run, RolloutOutcome.Retried, tokens: 30);
        metrics.RolloutFinished(run, RolloutOutcome.Failed);
        metrics.RolloutRetried(run);
        metrics.GroupStarted(run);
        metrics.EngineBatch(12);
        metrics.EngineQueueDepth(3);
        metrics.EngineBusy(0.25);
        metrics.WeightsReloaded(run, policyVersion: 1);
        metrics.LearnerPlaced(run, "silo-gpu-1", LearnerDevice.Gpu);
        metrics.SiloCapacity("silo-gpu-1", gpuDevices: 1);
    }
}
