-- Argo CD health for champion.dev/Rollout: a Degraded condition first, then the phase.
local hs = {status = "Progressing", message = "Waiting for the operator"}
if obj.status == nil or obj.status.phase == nil then return hs end
local phase = obj.status.phase
local message = obj.status.message or phase
if obj.status.observedGeneration ~= nil and obj.metadata.generation ~= nil
   and obj.status.observedGeneration < obj.metadata.generation then
  return {status = "Progressing", message = "The operator has not seen the latest spec yet"}
end
-- Degraded=True is something wrong now, in any phase (a deleted Deployment or Service of
-- the champion, a champion ModelVersion gone): say so, with the operator's message.
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Degraded" and c.status == "True" then
      local why = c.message
      if why == nil or why == "" then why = message end
      if c.reason ~= nil and c.reason ~= "" then why = c.reason .. ": " .. why end
      return {status = "Degraded", message = why}
    end
  end
end
if phase == "Succeeded" then
  return {status = "Healthy", message = message}
elseif phase == "Paused" then
  return {status = "Suspended", message = message}
elseif phase == "RolledBack" or phase == "Aborted" or phase == "CapacityPending" then
  return {status = "Degraded", message = message}
end
return {status = "Progressing", message = message}
