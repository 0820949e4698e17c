-- Argo CD health for champion.dev/ModelVersion: a held deletion first, then its Valid condition.
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    -- Deleted (from Git, say) while a Rollout still uses it: the operator keeps it, and the
    -- message names the Rollouts and how to release it.
    if c.type == "Deleting" and c.status == "True" then
      return {status = "Degraded", message = c.message}
    end
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Valid" then
      if c.status == "True" then return {status = "Healthy", message = c.message} end
      return {status = "Degraded", message = c.message}
    end
  end
end
return {status = "Progressing", message = "Waiting for the operator to validate the version"}
