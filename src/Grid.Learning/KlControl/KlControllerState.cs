namespace Grid.Learning.KlControl;

/// <summary>A KL controller's persistent state; restore it with <see cref="KlControllers.Restore"/>.</summary>
/// <param name="Kind">"fixed", "dynamic" or "adaptive".</param>
/// <param name="CurrentBeta">The beta the next step will use.</param>
/// <param name="LastObservedStep">The last step passed to Observe, or -1 before the first.</param>
public sealed record KlControllerState(string Kind, double CurrentBeta, long LastObservedStep);
