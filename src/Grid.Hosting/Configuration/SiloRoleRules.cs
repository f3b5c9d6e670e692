namespace Grid.Hosting.Configuration;

/// <summary>The checks <see cref="GridSiloOptions.Validate"/> makes of <see cref="GridSiloOptions.Role"/>.</summary>
internal static class SiloRoleRules
{
    public static void Check(List<string> problems, GridSiloRole role, int gpuDevices, bool allowCpuLearner)
    {
        if (!Enum.IsDefined(role))
        {
            problems.Add($"Role is {(int)role}; use {GridSiloRoles.Allowed}.");
        }
        else if (role == GridSiloRole.Learner && gpuDevices == 0 && !allowCpuLearner)
        {
            problems.Add("Role is learner but the silo declares no GPU (GpuDevices, --gpu N) and does not allow CPU "
                + "learners (AllowCpuLearner, --allow-cpu-learner), so it could host nothing: declare one of them, or use "
                + "role rollout or both.");
        }
        else if (role == GridSiloRole.Rollout && allowCpuLearner)
        {
            problems.Add("Role is rollout but AllowCpuLearner is set; a rollout-only silo never hosts a learner. Drop "
                + "--allow-cpu-learner, or use role both.");
        }
    }
}
